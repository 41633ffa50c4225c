package cli

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// Trellis-native instances and load balancers under /trellis/v1/instances
// and /trellis/v1/load-balancers (docs/targets.md): what INSTANCE and ALB
// targets resolve to. Signed like the VPC commands (vpc.go); the verbs are
// security-group's.

// inputJSONBody reads --input-json as a JSON object, refusing it next to
// the flags it replaces.
func inputJSONBody(cmd *cobra.Command, value string, flags ...string) (any, error) {
	for _, f := range flags {
		if cmd.Flags().Changed(f) {
			return nil, usageErrorf("--input-json cannot be combined with --%s", f)
		}
	}
	b, err := readInputJSON(value, cmd.InOrStdin())
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, usageErrorf("--input-json is not a JSON object: %v", err)
	}
	return doc, nil
}

func instanceCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "instance", Aliases: []string{"instances"},
		Short: "Trellis-native instances: the private address and state INSTANCE targets resolve to"}
	var vpc, addr, state, inputJSON string
	put := &cobra.Command{
		Use:   "put INSTANCE_ID",
		Short: "Declare an instance, or change its address or state",
		Long: `Declare an instance (i- and 8 or 17 hexadecimal digits) with its private
address in a VPC (a new one is made in host mode; in a netns VPC, the address
must lie in its CIDR blocks), or change the address or state of an existing one (it never moves to
another VPC). INSTANCE targets naming it are sent traffic, and health-checked,
at this address while the state is running; in any other state they leave the
rotation and ListTargets shows them UNUSED (Target.InvalidState).
States: pending, running (the default), stopping, stopped, shutting-down,
terminated. --input-json takes the request body instead (a literal document,
file://PATH, or - for stdin).`,
		Example: `  trellis instance put i-0123456789abcdef0 --vpc vpc-0123456789abcdef0 --private-ip 10.0.1.5
  trellis instance put i-0123456789abcdef0 --vpc vpc-0123456789abcdef0 --private-ip 10.0.1.5 --state stopped
  trellis instance put i-0123abcd --input-json '{"vpcId":"vpc-0123456789abcdef0","privateIpAddress":"10.0.1.6","state":"running"}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body any
			if inputJSON != "" {
				var err error
				if body, err = inputJSONBody(cmd, inputJSON, "vpc", "private-ip", "state"); err != nil {
					return err
				}
			} else {
				if vpc == "" || addr == "" {
					return usageErrorf("--vpc and --private-ip are required")
				}
				doc := map[string]any{"vpcId": vpc, "privateIpAddress": addr}
				if state != "" {
					doc["state"] = state
				}
				body = doc
			}
			return report(cmd, nativeCall(cmd, http.MethodPut, "instances/"+url.PathEscape(args[0]), body, instanceColumns))
		},
	}
	put.Flags().StringVar(&vpc, "vpc", "", "VPC ID the instance is in (it must exist)")
	put.Flags().StringVar(&addr, "private-ip", "", "the instance's private IPv4 or IPv6 address")
	put.Flags().StringVar(&state, "state", "", "pending, running (default), stopping, stopped, shutting-down or terminated")
	put.Flags().StringVar(&inputJSON, "input-json", "", "request body as JSON: a document, file://PATH, or - for stdin")
	get := &cobra.Command{Use: "get INSTANCE_ID", Short: "Describe an instance", Args: cobra.ExactArgs(1),
		Example: `  trellis instance get i-0123456789abcdef0`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return report(cmd, nativeCall(cmd, http.MethodGet, "instances/"+url.PathEscape(args[0]), nil, instanceColumns))
		}}
	var listVPC string
	list := &cobra.Command{Use: "list", Short: "List instances (of one VPC with --vpc)", Args: cobra.NoArgs,
		Example: `  trellis instance list --vpc vpc-0123456789abcdef0 --output table`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := "instances"
			if listVPC != "" {
				path += "?vpcId=" + url.QueryEscape(listVPC)
			}
			return report(cmd, nativeCall(cmd, http.MethodGet, path, nil, instanceColumns))
		}}
	list.Flags().StringVar(&listVPC, "vpc", "", "only the instances of this VPC")
	del := &cobra.Command{Use: "delete INSTANCE_ID", Short: "Delete an instance (its targets stay registered, with no address)",
		Example: `  trellis instance delete i-0123456789abcdef0`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return report(cmd, nativeCall(cmd, http.MethodDelete, "instances/"+url.PathEscape(args[0]), nil, nil))
		}}
	for _, c := range []*cobra.Command{put, get, list, del} {
		c.SilenceUsage = true
		cmd.AddCommand(c)
	}
	return cmd
}

var instanceColumns = cols("INSTANCE ID", "instanceId", "VPC ID", "vpcId", "PRIVATE IP", "privateIpAddress", "STATE", "state")

func loadBalancerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "load-balancer", Aliases: []string{"lb"},
		Short: "Trellis-native Application Load Balancers: the listener addresses ALB targets resolve to"}
	var vpc, inputJSON string
	var listeners []string
	put := &cobra.Command{
		Use:   "put NAME",
		Short: "Declare a load balancer, or replace its listeners",
		Long: `Declare an Application Load Balancer in a VPC (a new one is made in host
mode), or replace the
listeners of an existing one; the answer's loadBalancerArn is what an ALB target
group registers, and it stays the same across updates. Each --listener is
PROTOCOL:PORT=ADDR[,ADDR...] with PROTOCOL HTTP or HTTPS and each ADDR an
ip:port ([v6]:port for IPv6) that serves the listener. An ALB target group
forwards to the listener on the group's port, spread over its addresses, as
HTTP or HTTPS per the group's protocol. --input-json takes the request body
instead (a literal document, file://PATH, or - for stdin).`,
		Example: `  trellis load-balancer put web --vpc vpc-0123456789abcdef0 --listener HTTP:80=10.0.1.9:8080,10.0.1.10:8080
  trellis load-balancer put web --vpc vpc-0123456789abcdef0 --listener HTTPS:443=[2001:db8::9]:8443
  trellis load-balancer put web --input-json '{"vpcId":"vpc-0123456789abcdef0","listeners":[{"port":80,"protocol":"HTTP","addresses":["10.0.1.9:8080"]}]}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body any
			if inputJSON != "" {
				var err error
				if body, err = inputJSONBody(cmd, inputJSON, "vpc", "listener"); err != nil {
					return err
				}
			} else {
				if vpc == "" {
					return usageErrorf("--vpc is required")
				}
				if len(listeners) == 0 {
					return usageErrorf("at least one --listener is required")
				}
				ls := make([]map[string]any, 0, len(listeners))
				for _, s := range listeners {
					l, err := parseListenerFlag(s)
					if err != nil {
						return err
					}
					ls = append(ls, l)
				}
				body = map[string]any{"vpcId": vpc, "listeners": ls}
			}
			return report(cmd, nativeCall(cmd, http.MethodPut, "load-balancers/"+url.PathEscape(args[0]), body, loadBalancerColumns))
		},
	}
	put.Flags().StringVar(&vpc, "vpc", "", "VPC ID the load balancer is in (it must exist)")
	put.Flags().StringArrayVar(&listeners, "listener", nil, "listener PROTOCOL:PORT=ADDR[,ADDR...] (repeatable)")
	put.Flags().StringVar(&inputJSON, "input-json", "", "request body as JSON: a document, file://PATH, or - for stdin")
	get := &cobra.Command{Use: "get NAME", Short: "Describe a load balancer", Args: cobra.ExactArgs(1),
		Example: `  trellis load-balancer get web`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return report(cmd, nativeCall(cmd, http.MethodGet, "load-balancers/"+url.PathEscape(args[0]), nil, loadBalancerColumns))
		}}
	var listVPC string
	list := &cobra.Command{Use: "list", Short: "List load balancers (of one VPC with --vpc)", Args: cobra.NoArgs,
		Example: `  trellis load-balancer list --output table`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := "load-balancers"
			if listVPC != "" {
				path += "?vpcId=" + url.QueryEscape(listVPC)
			}
			return report(cmd, nativeCall(cmd, http.MethodGet, path, nil, loadBalancerColumns))
		}}
	list.Flags().StringVar(&listVPC, "vpc", "", "only the load balancers of this VPC")
	del := &cobra.Command{Use: "delete NAME", Short: "Delete a load balancer (ALB targets naming it stay registered, with no address)",
		Example: `  trellis load-balancer delete web`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return report(cmd, nativeCall(cmd, http.MethodDelete, "load-balancers/"+url.PathEscape(args[0]), nil, nil))
		}}
	for _, c := range []*cobra.Command{put, get, list, del} {
		c.SilenceUsage = true
		cmd.AddCommand(c)
	}
	return cmd
}

var loadBalancerColumns = cols("NAME", "loadBalancerName", "VPC ID", "vpcId", "ARN", "loadBalancerArn")

// parseListenerFlag parses one --listener: PROTOCOL:PORT=ADDR[,ADDR...].
// The protocol and port are split off the front, so IPv6 addresses keep
// their colons. The server validates the values; this only shapes them.
func parseListenerFlag(s string) (map[string]any, error) {
	proto, rest, ok := strings.Cut(s, ":")
	if !ok {
		return nil, usageErrorf("--listener %q: want PROTOCOL:PORT=ADDR[,ADDR...]", s)
	}
	portS, addrs, ok := strings.Cut(rest, "=")
	if !ok || addrs == "" {
		return nil, usageErrorf("--listener %q: want PROTOCOL:PORT=ADDR[,ADDR...]", s)
	}
	port, err := strconv.Atoi(portS)
	if err != nil {
		return nil, usageErrorf("--listener %q: port %q must be a number", s, portS)
	}
	return map[string]any{"protocol": strings.ToUpper(proto), "port": port, "addresses": strings.Split(addrs, ",")}, nil
}
