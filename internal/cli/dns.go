package cli

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
)

// `trellis dns lookup` asks the server what a VPC's resolver answers for a
// name, and why, from the same snapshot the resolver answers from
// (GET /trellis/v1/dns/lookup; docs/dns.md).

func dnsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "dns", Short: "The DNS of the VPCs: what a VPC's resolver answers"}
	var vpc string
	lookup := &cobra.Command{
		Use:   "lookup NAME --vpc VPC_ID",
		Short: "Show what a VPC's resolver answers for NAME, and why",
		Long: `Show what the resolver of a VPC answers for NAME, and why: the service it reaches and
through which service network (answered with the VPC's ingress address), a service name
the VPC does not reach (NXDOMAIN), or a name Trellis does not own (forwarded to the
upstream resolvers, or refused when there are none). Nothing is sent to a resolver.

  trellis dns lookup orders.example.com --vpc vpc-0123456789abcdef0

The default output is a readable report; --output json gives the full result.`,
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if vpc == "" {
				return report(cmd, usageErrorf("--vpc is required"))
			}
			q := url.Values{"vpc": {vpc}, "name": {args[0]}}
			v, err := nativeDo(cmd, http.MethodGet, "dns/lookup?"+q.Encode(), nil)
			if err != nil {
				return report(cmd, err)
			}
			if cmd.Flags().Changed(flagOutput) && strings.EqualFold(flagString(cmd, flagOutput, outputJSON), outputJSON) {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			m, _ := v.(map[string]any)
			printLookup(cmd.OutOrStdout(), m)
			return nil
		},
	}
	lookup.Flags().StringVar(&vpc, "vpc", "", "the VPC whose resolver answers (required)")
	cmd.AddCommand(lookup)
	return cmd
}

func printLookup(w io.Writer, m map[string]any) {
	s := func(k string) string {
		if v, ok := m[k]; ok && v != nil {
			return fmt.Sprint(v)
		}
		return ""
	}
	fmt.Fprintf(w, "Name:    %s\nVPC:     %s\nAnswer:  %s\n", s("name"), s("vpcId"), s("rcode"))
	if addrs, ok := m["addresses"].([]any); ok {
		for _, a := range addrs {
			typ := "A"
			if strings.Contains(fmt.Sprint(a), ":") {
				typ = "AAAA"
			}
			fmt.Fprintf(w, "         %s %v (TTL %ss)\n", typ, a, s("ttl"))
		}
	}
	if id := s("serviceId"); id != "" {
		fmt.Fprintf(w, "Service: %s (%s)\n", id, s("serviceArn"))
	}
	if ups, ok := m["upstreams"].([]any); ok && len(ups) > 0 {
		parts := make([]string, len(ups))
		for i, u := range ups {
			parts[i] = fmt.Sprint(u)
		}
		fmt.Fprintf(w, "Upstreams: %s\n", strings.Join(parts, ", "))
	}
	fmt.Fprintf(w, "Why:     %s\n", s("reason"))
}
