package cli

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// Trellis-native security groups under /trellis/v1/security-groups
// (docs/security-groups.md), signed like the VPC commands (vpc.go).

func securityGroupCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "security-group", Aliases: []string{"sg"},
		Short: "Trellis-native security groups: inbound rules that gate every connection from a VPC whose association names them"}
	var vpc, descr, inputJSON string
	var ingress []string
	put := &cobra.Command{
		Use:   "put SECURITY_GROUP_ID",
		Short: "Create a security group, or replace its rules and description",
		Long: `Create a security group in a VPC, or replace the inbound rules and the
description of an existing one (it never moves to another VPC). Each --ingress
is PROTOCOL:PORTS:CIDR for tcp (PORTS a port or FROM-TO) or all:CIDR for every
protocol and port; CIDR is IPv4 or IPv6. With no --ingress the group admits
nothing. --input-json takes the request body instead (a literal document,
file://PATH, or - for stdin), which also carries rule descriptions.`,
		Example: `  trellis security-group put sg-0123456789abcdef0 --vpc vpc-0123456789abcdef0 --ingress tcp:80-80:10.0.1.7/32
  trellis security-group put sg-0123456789abcdef0 --vpc vpc-0123456789abcdef0 --ingress tcp:8443:2001:db8::/32 --ingress all:127.0.0.0/8
  trellis security-group put sg-0123456789abcdef0 --input-json '{"vpcId":"vpc-0123456789abcdef0","ingress":[{"protocol":"tcp","fromPort":80,"toPort":80,"cidr":"10.0.1.7/32","description":"web"}]}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body any
			if inputJSON != "" {
				if cmd.Flags().Changed("vpc") || cmd.Flags().Changed("ingress") || cmd.Flags().Changed("description") {
					return usageErrorf("--input-json cannot be combined with --vpc, --ingress or --description")
				}
				b, err := readInputJSON(inputJSON, cmd.InOrStdin())
				if err != nil {
					return err
				}
				var doc map[string]any
				if err := json.Unmarshal(b, &doc); err != nil {
					return usageErrorf("--input-json is not a JSON object: %v", err)
				}
				body = doc
			} else {
				if vpc == "" {
					return usageErrorf("--vpc is required")
				}
				rules := make([]map[string]any, 0, len(ingress))
				for _, s := range ingress {
					r, err := parseIngressFlag(s)
					if err != nil {
						return err
					}
					rules = append(rules, r)
				}
				doc := map[string]any{"vpcId": vpc, "ingress": rules}
				if descr != "" {
					doc["description"] = descr
				}
				body = doc
			}
			return report(cmd, nativeCall(cmd, http.MethodPut, "security-groups/"+url.PathEscape(args[0]), body, sgColumns))
		},
	}
	put.Flags().StringVar(&vpc, "vpc", "", "VPC ID the group is in (created in host mode if new)")
	put.Flags().StringArrayVar(&ingress, "ingress", nil, "inbound rule tcp:PORTS:CIDR or all:CIDR (repeatable)")
	put.Flags().StringVar(&descr, "description", "", "description of the group (printable ASCII, at most 255 characters)")
	put.Flags().StringVar(&inputJSON, "input-json", "", "request body as JSON: a document, file://PATH, or - for stdin")
	get := &cobra.Command{Use: "get SECURITY_GROUP_ID", Short: "Describe a security group", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return report(cmd, nativeCall(cmd, http.MethodGet, "security-groups/"+url.PathEscape(args[0]), nil, sgColumns))
		}}
	var listVPC string
	list := &cobra.Command{Use: "list", Short: "List security groups (of one VPC with --vpc)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := "security-groups"
			if listVPC != "" {
				path += "?vpcId=" + url.QueryEscape(listVPC)
			}
			return report(cmd, nativeCall(cmd, http.MethodGet, path, nil, sgColumns))
		}}
	list.Flags().StringVar(&listVPC, "vpc", "", "only the groups of this VPC")
	del := &cobra.Command{Use: "delete SECURITY_GROUP_ID", Short: "Delete a security group no association of its VPC names",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return report(cmd, nativeCall(cmd, http.MethodDelete, "security-groups/"+url.PathEscape(args[0]), nil, nil))
		}}
	for _, c := range []*cobra.Command{put, get, list, del} {
		c.SilenceUsage = true
		cmd.AddCommand(c)
	}
	return cmd
}

var sgColumns = cols("SECURITY GROUP ID", "securityGroupId", "VPC ID", "vpcId", "DESCRIPTION", "description", "ARN", "arn")

// parseIngressFlag parses one --ingress: tcp:PORT:CIDR, tcp:FROM-TO:CIDR,
// or all:CIDR (also -1:CIDR). An IPv6 CIDR has colons of its own, so the
// protocol and the ports are split off the front only. The server
// validates the values; this only shapes them.
func parseIngressFlag(s string) (map[string]any, error) {
	proto, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" {
		return nil, usageErrorf("--ingress %q: want tcp:PORTS:CIDR or all:CIDR", s)
	}
	switch strings.ToLower(proto) {
	case "all", "-1":
		return map[string]any{"protocol": "all", "cidr": rest}, nil
	case "tcp":
	default:
		return nil, usageErrorf("--ingress %q: protocol must be tcp or all", s)
	}
	ports, cidr, ok := strings.Cut(rest, ":")
	if !ok || cidr == "" {
		return nil, usageErrorf("--ingress %q: want tcp:PORTS:CIDR (PORTS a port or FROM-TO)", s)
	}
	fromS, toS, isRange := strings.Cut(ports, "-")
	if !isRange {
		toS = fromS
	}
	from, err1 := strconv.Atoi(fromS)
	to, err2 := strconv.Atoi(toS)
	if err1 != nil || err2 != nil {
		return nil, usageErrorf("--ingress %q: ports %q must be a number or FROM-TO", s, ports)
	}
	return map[string]any{"protocol": "tcp", "fromPort": from, "toPort": to, "cidr": cidr}, nil
}
