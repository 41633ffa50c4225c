package cli

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// `trellis traffic` reads the data plane's traffic aggregates
// (GET /trellis/v1/traffic; docs/traffic.md): who calls a service, what a
// caller calls, and the busiest services and callers, live.

const flagCaller = "caller"

func trafficCmd() *cobra.Command {
	var service, caller, window string
	cmd := &cobra.Command{
		Use:   "traffic (--service SERVICE | --caller PRINCIPAL_ARN) [--window 5m]",
		Short: "Who calls a service, what a caller calls, with what errors and latency",
		Long: `Show the traffic the data plane counted over the last --window (default 5m, at most
what 'trellis serve --traffic-window' keeps, 1h by default), by the minute:

  trellis traffic --service payments --window 1h
      the callers of the service (principal and source VPC) and its target groups,
      with requests, 4xx, 5xx and p50/p99 latency: which services called payments
      in the last hour, with what errors
  trellis traffic --caller arn:aws:iam::111122223333:role/orders
      the services a principal called (Anonymous: callers not authenticated)
  trellis traffic top
      the busiest services and callers, refreshed in place

SERVICE is a name, an ID or an ARN. Only the services of your account are shown.
The default output is a table; --output json gives the API's answer.`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			label := service
			switch {
			case (service == "") == (caller == ""):
				return report(cmd, usageErrorf("give one of --service or --caller (or run 'trellis traffic top')"))
			case service != "":
				c, err := newClient(cmd)
				if err != nil {
					return report(cmd, err)
				}
				in := struct{ ServiceIdentifier *string }{&service}
				if err := resolveNames(cmd.Context(), c, cmd.Flags(), &in); err != nil {
					return report(cmd, err)
				}
				q.Set("service", service)
				if label != service {
					label += " (" + service + ")"
				}
			default:
				q.Set("caller", caller)
			}
			if window != "" {
				q.Set("window", window)
			}
			v, err := nativeDo(cmd, http.MethodGet, "traffic?"+q.Encode(), nil)
			if err != nil {
				return report(cmd, err)
			}
			if wantJSON(cmd) {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			m, _ := v.(map[string]any)
			w := cmd.OutOrStdout()
			if service != "" {
				fmt.Fprintf(w, "Service %s, last %s\n\nCallers\n", printable(label), printable(windowOr(window)))
				printTraffic(w, m["callers"], cols("PRINCIPAL", "principal", "SOURCE VPC", "sourceVpcId"))
				fmt.Fprintf(w, "\nTarget groups\n")
				printTraffic(w, m["targetGroups"], cols("TARGET GROUP", "targetGroupId"))
				return nil
			}
			fmt.Fprintf(w, "Caller %s, last %s\n\n", printable(caller), printable(windowOr(window)))
			printTraffic(w, m["services"], cols("SERVICE", "serviceName", "SERVICE ID", "serviceId"))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&service, flagService, "", "the service whose callers and target groups are shown (name, ID or ARN)")
	f.StringVar(&caller, flagCaller, "", "the principal ARN whose calls are shown (Anonymous: unauthenticated callers)")
	f.StringVar(&window, "window", "", "how far back to count, e.g. 15m or 1h (default 5m)")
	cmd.AddCommand(trafficTopCmd())
	return cmd
}

func trafficTopCmd() *cobra.Command {
	var window string
	var n int
	var interval time.Duration
	var once bool
	cmd := &cobra.Command{
		Use:   "top [--interval 2s] [--window 5m] [-n 10] [--once]",
		Short: "The busiest services and callers with their error rates, refreshed in place",
		Long: `Show the busiest services and callers over the last --window with their error rates
and latency, refreshed every --interval until interrupted: in place on a terminal,
as repeated blocks otherwise. --once prints one block and exits (for scripts).`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval < 100*time.Millisecond {
				return report(cmd, usageErrorf("--interval %v: want at least 100ms", interval))
			}
			if n < 1 || n > 1000 {
				return report(cmd, usageErrorf("-n %d: want 1 to 1000", n))
			}
			q := url.Values{"top": {strconv.Itoa(n)}}
			if window != "" {
				q.Set("window", window)
			}
			w := cmd.OutOrStdout()
			tty := isTerminal(w)
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				v, err := nativeDo(cmd, http.MethodGet, "traffic?"+q.Encode(), nil)
				if err != nil {
					return report(cmd, err)
				}
				if wantJSON(cmd) {
					if err := writeJSON(w, v); err != nil {
						return err
					}
				} else {
					if tty && !once {
						fmt.Fprint(w, "\x1b[H\x1b[2J") // cursor home, clear screen (ECMA-48)
					}
					m, _ := v.(map[string]any)
					fmt.Fprintf(w, "trellis traffic top — last %s — %s\n\nServices\n", printable(windowOr(window)), time.Now().Format(time.TimeOnly))
					printTraffic(w, m["services"], cols("SERVICE", "serviceName", "SERVICE ID", "serviceId"))
					fmt.Fprintf(w, "\nCallers\n")
					printTraffic(w, m["callers"], cols("PRINCIPAL", "principal"))
					if !tty {
						fmt.Fprintln(w)
					}
				}
				if once {
					return nil
				}
				select {
				case <-cmd.Context().Done():
					return nil
				case <-tick.C:
				}
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&window, "window", "", "how far back to count, e.g. 1m or 1h (default 5m)")
	f.IntVarP(&n, "top", "n", 10, "how many services and callers to show")
	f.DurationVar(&interval, "interval", 2*time.Second, "how often to refresh")
	f.BoolVar(&once, "once", false, "print once and exit")
	return cmd
}

func windowOr(w string) string {
	if w == "" {
		return "5m"
	}
	return w
}

// wantJSON reports --output json given explicitly (the traffic tables are
// the default, as for 'trellis dns lookup').
func wantJSON(cmd *cobra.Command) bool {
	return cmd.Flags().Changed(flagOutput) && strings.EqualFold(flagString(cmd, flagOutput, outputJSON), outputJSON)
}

// isTerminal reports whether w is a terminal (a character device), where
// `top` redraws in place.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// printTraffic prints traffic rows: the key columns, then the numbers.
func printTraffic(w io.Writer, v any, keys []column) {
	items, _ := v.([]any)
	if len(items) == 0 {
		fmt.Fprintln(w, "  (no requests)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var hdr strings.Builder
	for _, k := range keys {
		hdr.WriteString(k.header + "\t")
	}
	fmt.Fprintln(tw, hdr.String()+"REQUESTS\t4XX\t5XX\tERROR %\tP50 MS\tP99 MS\t")
	for _, it := range items {
		var row strings.Builder
		for _, k := range keys {
			row.WriteString(printable(cell(lookupPath(it, k.path))) + "\t")
		}
		num := func(k string) float64 {
			x, _ := lookupPath(it, k)
			f, _ := x.(float64)
			return f
		}
		req, e4, e5 := num("requests"), num("errors4xx"), num("errors5xx")
		rate := 0.0
		if req > 0 {
			rate = 100 * (e4 + e5) / req
		}
		fmt.Fprintf(tw, "%s%.0f\t%.0f\t%.0f\t%.1f\t%.2f\t%.2f\t\n", row.String(), req, e4, e5, rate, num("p50Ms"), num("p99Ms"))
	}
	_ = tw.Flush()
}

// printable replaces control characters (C0, DEL, C1) with '?': values
// printed to a terminal cannot move the cursor or change its state.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}
