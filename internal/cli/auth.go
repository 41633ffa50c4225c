package cli

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/spf13/cobra"
)

// `trellis auth simulate` asks the server to evaluate a hypothetical request
// exactly as the data plane would: the double association, then the
// service network's and the service's auth policies.

func authCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "auth", Short: "Zero-trust auth: explain what the auth policies decide"}
	var in struct {
		principal, method, path, query, vpc, service, sourceIP string
		svcPolicyFile, netPolicyFile                           string
		anonymous                                              bool
		headers                                                []string
		port                                                   int
	}
	sim := &cobra.Command{
		Use:   "simulate",
		Short: "Show each level's decision, and the statement that decided it, for a hypothetical request",
		Long: `Evaluate a request as the data plane would, without sending it: is the service reachable
from the source VPC (the double association), and what do the service network's and the
service's auth policies decide, statement by statement.

  trellis auth simulate --source-vpc vpc-0123456789abcdef0 --service orders \
      --principal arn:aws:iam::000000000000:role/reader --method POST --path /orders

A draft auth policy can stand in for the live one of either level, for this
simulation only ("would this caller be allowed if I saved this?"); nothing is
stored, the level's auth type stays the live one, and the draft is checked as
auth-policy put checks a policy:

  trellis auth simulate --source-vpc vpc-0123456789abcdef0 --service orders \
      --principal arn:aws:iam::000000000000:role/reader --service-policy-file draft.json

The default output is a readable report; --output json gives the full result.`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in.vpc == "" || in.service == "" {
				return report(cmd, usageErrorf("--source-vpc and --service are required"))
			}
			if in.anonymous && in.principal != "" {
				return report(cmd, usageErrorf("give --principal or --anonymous, not both"))
			}
			hdrs := map[string]string{}
			for _, h := range in.headers {
				k, v, ok := strings.Cut(h, "=")
				if !ok || k == "" {
					return report(cmd, usageErrorf("--header %q: want name=value", h))
				}
				hdrs[k] = v
			}
			body := map[string]any{"principalArn": in.principal, "method": strings.ToUpper(in.method), "path": in.path,
				"query": in.query, "headers": hdrs, "sourceVpc": in.vpc, "service": in.service, "sourceIp": in.sourceIP, "port": in.port}
			if in.svcPolicyFile == "-" && in.netPolicyFile == "-" {
				return report(cmd, usageErrorf("only one of --service-policy-file and --network-policy-file can read stdin"))
			}
			for _, d := range []struct{ flag, name, key string }{
				{"service-policy-file", in.svcPolicyFile, "serviceAuthPolicy"},
				{"network-policy-file", in.netPolicyFile, "serviceNetworkAuthPolicy"},
			} {
				if !cmd.Flags().Changed(d.flag) {
					continue
				}
				doc, err := readPolicyFile(d.name, cmd.InOrStdin())
				if err != nil {
					return report(cmd, usageErrorf("--%s: %v", d.flag, err))
				}
				body[d.key] = doc
			}
			v, err := nativeDo(cmd, http.MethodPost, "auth/simulate", body)
			if err != nil {
				return report(cmd, err)
			}
			if cmd.Flags().Changed(flagOutput) && strings.EqualFold(flagString(cmd, flagOutput, outputJSON), outputJSON) {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			m, _ := v.(map[string]any)
			printSimulation(cmd.OutOrStdout(), m)
			return nil
		},
	}
	f := sim.Flags()
	f.StringVar(&in.principal, "principal", "", "caller's principal ARN (arn:aws:iam::ACCOUNT:root, :role/NAME, :user/NAME, or an assumed-role session ARN); omit for an anonymous caller")
	f.BoolVar(&in.anonymous, "anonymous", false, "an unsigned caller (the default when --principal is not given)")
	f.StringVar(&in.method, "method", "GET", "HTTP method")
	f.StringVar(&in.path, "path", "/", "request path")
	f.StringVar(&in.query, "query", "", "query string, e.g. a=1&b=2")
	f.StringArrayVar(&in.headers, "header", nil, "request header name=value (repeatable)")
	f.StringVar(&in.vpc, "source-vpc", "", "VPC the request comes from (required)")
	f.StringVar(&in.service, "service", "", "service: name, ID, ARN or a host name it answers to (required)")
	f.StringVar(&in.sourceIP, "source-ip", "", "client IP address, for aws:SourceIp conditions")
	f.IntVar(&in.port, "port", 80, "listener port, for vpc-lattice-svcs:Port conditions")
	f.StringVar(&in.svcPolicyFile, "service-policy-file", "", "simulate with this draft auth policy of the service instead of the live one (- for stdin); nothing is stored")
	f.StringVar(&in.netPolicyFile, "network-policy-file", "", "simulate with this draft auth policy of the service network instead of the live one (- for stdin); nothing is stored")
	cmd.AddCommand(sim)
	return cmd
}

func printSimulation(w io.Writer, m map[string]any) {
	s := func(v any) string {
		if v == nil {
			return ""
		}
		return fmt.Sprint(v)
	}
	fmt.Fprintf(w, "Principal:  %s\n", s(m["principal"]))
	if m["reachable"] != true {
		fmt.Fprintf(w, "Reachable:  no\nResult:     %s\n", s(m["message"]))
		return
	}
	fmt.Fprintf(w, "Resource:   %s\n", s(m["resource"]))
	for _, lv := range []struct{ key, title string }{{"serviceNetwork", "Service network"}, {"service", "Service"}} {
		l, ok := m[lv.key].(map[string]any)
		if !ok {
			continue
		}
		title := lv.title
		if l["draft"] == true {
			title += " [draft policy]"
		}
		line := fmt.Sprintf("%s %s (auth type %s): %s", title, s(l["arn"]), s(l["authType"]), s(l["decision"]))
		if st := s(l["decidingStatement"]); st != "" {
			line += " by " + st
		}
		if n := s(l["note"]); n != "" {
			line += " — " + n
		}
		fmt.Fprintln(w, line)
		stmts, _ := l["statements"].([]any)
		for _, x := range stmts {
			st, _ := x.(map[string]any)
			sid := s(st["Sid"])
			if sid == "" {
				sid = "-"
			}
			state := "applies"
			if st["Applied"] != true {
				state = "does not apply: " + s(st["Reason"])
			}
			fmt.Fprintf(w, "  [%v] %-16s %-5s %s\n", st["Index"], sid, effectName(st["Effect"]), state)
		}
	}
	fmt.Fprintf(w, "Result:     %s\n", s(m["message"]))
}

// effectName prints a policy effect that the server sent as a number or a
// string.
func effectName(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		switch x {
		case 1:
			return "Allow"
		case 2:
			return "Deny"
		}
	}
	return fmt.Sprint(v)
}
