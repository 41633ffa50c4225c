package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// Canary releases under /trellis/v1/canaries (docs/canaries.md), signed
// like the VPC commands (vpc.go). Services, listeners, rules and target
// groups may be given by name, as everywhere (resolve.go).

var canaryColumns = cols("CANARY ID", "canaryId", "STATE", "state", "STEP", "stepIndex", "BASELINE", "weights.baseline",
	"CANARY", "weights.canary", "SERVICE", "serviceId", "LISTENER", "listenerId", "RULE", "ruleId")

func canaryCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "canary", Short: "Canary releases: shift a forward from a baseline to a canary target group step by step, rolled back on errors"}
	var svc, lst, rule, baseline, cand, steps, interval, maxErr, maxP99 string
	var minReq int
	start := &cobra.Command{
		Use:   "start",
		Short: "Start a canary release of a listener's default action or of one rule",
		Long: `Start a canary: the forward of the listener's default action (or of --rule)
moves from --baseline to --canary through --steps (the canary's percent), each
held --interval. Every second the canary's 5xx rate and p99 over the step are
compared with --max-error-rate and --max-p99 (once --min-requests canary
requests arrived): a breach rolls back to baseline 100 / canary 0, the end of
the last step (which must be 100) promotes the canary. The forward must
contain the baseline and may contain only the two groups.

--interval is a duration (1m, 90s) or seconds; --max-error-rate a percent (1%)
or a fraction (0.01); --max-p99 a duration (500ms) or milliseconds.`,
		Example: `  trellis canary start --service payments --listener web --baseline payments-v1 --canary payments-v2 \
      --steps 5,25,50,100 --interval 1m --max-error-rate 1% --max-p99 500ms
  trellis canary start --service payments --listener web --rule api --baseline v1 --canary v2 --steps 10,100 --interval 30s --max-error-rate 0.5%`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			body, err := canaryStartBody(cmd, svc, lst, rule, baseline, cand, steps, interval, maxErr, maxP99, minReq)
			if err != nil {
				return report(cmd, err)
			}
			return report(cmd, nativeCall(cmd, http.MethodPost, "canaries", body, canaryColumns))
		},
	}
	fs := start.Flags()
	fs.StringVar(&svc, flagService, "", "service name, ID or ARN (required)")
	fs.StringVar(&lst, flagListener, "", "listener name, ID or ARN (required)")
	fs.StringVar(&rule, flagRule, "", "rule name, ID or ARN (default: the listener's default action)")
	fs.StringVar(&baseline, "baseline", "", "target group now serving: name, ID or ARN (required)")
	fs.StringVar(&cand, "canary", "", "target group of the new version: name, ID or ARN (required)")
	fs.StringVar(&steps, "steps", "5,25,50,100", "the canary's percent at each step, increasing, ending at 100")
	fs.StringVar(&interval, "interval", "", "how long each step is held: a duration (1m) or seconds (required)")
	fs.StringVar(&maxErr, "max-error-rate", "", "the canary's largest 5xx rate: 1% or 0.01 (required)")
	fs.StringVar(&maxP99, "max-p99", "", "the canary's largest p99 latency: 500ms or milliseconds (default: not judged)")
	fs.IntVar(&minReq, "min-requests", 0, "canary requests a step needs before it is judged (default 20)")

	get := &cobra.Command{Use: "get CANARY_ID", Short: "Describe a canary: state, weights, step, history with reasons", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return report(cmd, nativeCall(cmd, http.MethodGet, "canaries/"+url.PathEscape(args[0]), nil, canaryColumns))
		}}
	list := &cobra.Command{Use: "list", Short: "List your canaries", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return report(cmd, nativeCall(cmd, http.MethodGet, "canaries", nil, canaryColumns))
		}}
	abort := &cobra.Command{Use: "abort CANARY_ID", Short: "Stop a running canary: weights back to baseline 100 / canary 0", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return report(cmd, nativeCall(cmd, http.MethodPost, "canaries/"+url.PathEscape(args[0])+"/abort", nil, canaryColumns))
		}}
	var poll time.Duration
	watch := &cobra.Command{Use: "watch CANARY_ID",
		Short: "Print a canary's steps as they happen; exits at its final state (non-zero unless PROMOTED)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return report(cmd, watchCanary(cmd, args[0], poll))
		}}
	watch.Flags().DurationVar(&poll, "poll", time.Second, "how often to ask")
	for _, c := range []*cobra.Command{start, get, list, watch, abort} {
		c.SilenceUsage = true
		cmd.AddCommand(c)
	}
	return cmd
}

// canaryNames holds the members name resolution reads its parents from.
type canaryNames struct {
	ServiceIdentifier, ListenerIdentifier, RuleIdentifier *string
}

func canaryStartBody(cmd *cobra.Command, svc, lst, rule, baseline, cand, steps, interval, maxErr, maxP99 string, minReq int) (map[string]any, error) {
	for _, f := range []struct{ name, v string }{{flagService, svc}, {flagListener, lst}, {"baseline", baseline},
		{"canary", cand}, {"interval", interval}, {"max-error-rate", maxErr}} {
		if f.v == "" {
			return nil, usageErrorf("--%s is required", f.name)
		}
	}
	stepList, err := parseSteps(steps)
	if err != nil {
		return nil, err
	}
	secs, err := parseSeconds(interval)
	if err != nil {
		return nil, err
	}
	rate, err := parseRate(maxErr)
	if err != nil {
		return nil, err
	}
	body := map[string]any{"steps": stepList, "intervalSeconds": secs, "maxErrorRate": rate}
	if maxP99 != "" {
		ms, err := parseMillis(maxP99)
		if err != nil {
			return nil, err
		}
		body["maxP99Ms"] = ms
	}
	if cmd.Flags().Changed("min-requests") {
		body["minRequests"] = minReq
	}
	// Names to IDs, parents first (a listener is named within its service).
	c, err := newClient(cmd)
	if err != nil {
		return nil, err
	}
	in := canaryNames{ServiceIdentifier: &svc, ListenerIdentifier: &lst, RuleIdentifier: &rule}
	st := reflect.ValueOf(&in).Elem()
	lists := map[string][]named{}
	resolveOne := func(p *string, kinds []*nameKind) error {
		if *p == "" || isIdentifier(*p, kinds) {
			return nil
		}
		id, err := lookupName(cmd.Context(), c, st, lists, kinds, *p)
		if err != nil {
			return err
		}
		*p = id
		return nil
	}
	for _, r := range []struct {
		p     *string
		kinds []*nameKind
	}{{&svc, []*nameKind{serviceKind}}, {&lst, []*nameKind{listenerKind}}, {&rule, []*nameKind{ruleKind}},
		{&baseline, []*nameKind{targetGroupKind}}, {&cand, []*nameKind{targetGroupKind}}} {
		if err := resolveOne(r.p, r.kinds); err != nil {
			return nil, err
		}
	}
	body["serviceIdentifier"], body["listenerIdentifier"] = svc, lst
	body["baselineTargetGroup"], body["canaryTargetGroup"] = baseline, cand
	if rule != "" {
		body["ruleIdentifier"] = rule
	}
	return body, nil
}

// parseSteps reads 5,25,50,100; the server checks the order and range.
func parseSteps(s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(p), "%"))
		if err != nil {
			return nil, usageErrorf("--steps %q: want percents separated by commas, such as 5,25,50,100", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// parseSeconds reads a duration (1m, 90s) or a number of seconds.
func parseSeconds(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d%time.Second != 0 {
		return 0, usageErrorf("--interval %q: want whole seconds, as a duration (1m, 90s) or a number", s)
	}
	return int(d / time.Second), nil
}

// parseMillis reads a duration (500ms, 1s) or a number of milliseconds.
func parseMillis(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d%time.Millisecond != 0 {
		return 0, usageErrorf("--max-p99 %q: want whole milliseconds, as a duration (500ms) or a number", s)
	}
	return int(d / time.Millisecond), nil
}

// parseRate reads 1% or 0.01. A bare number above 1 is refused rather
// than guessed at: "5" could mean 5% or 500%.
func parseRate(s string) (float64, error) {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return 0, usageErrorf("--max-error-rate %q: want a percent (1%%) or a fraction (0.01)", s)
		}
		return f / 100, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f > 1 {
		return 0, usageErrorf("--max-error-rate %q: want a percent (1%%) or a fraction between 0 and 1 (0.01)", s)
	}
	return f, nil
}

// watchCanary prints each history entry of a canary once, as it appears,
// and returns at a final state: nil for PROMOTED, an error naming the state
// and its reason otherwise (the exit code is then non-zero).
func watchCanary(cmd *cobra.Command, id string, poll time.Duration) error {
	if poll <= 0 {
		poll = time.Second
	}
	out := cmd.OutOrStdout()
	seen := 0
	for {
		v, err := nativeDo(cmd, http.MethodGet, "canaries/"+url.PathEscape(id), nil)
		if err != nil {
			return err
		}
		m, _ := v.(map[string]any)
		hist, _ := m["history"].([]any)
		if seen > len(hist) { // history trimmed (MaxHistory)
			seen = 0
		}
		for _, h := range hist[seen:] {
			e, _ := h.(map[string]any)
			fmt.Fprintf(out, "%s  %-11s step %s  canary %s%%  %s\n", jsonStr(e["at"]), jsonStr(e["event"]),
				num(e["stepIndex"], 1), num(e["percent"], 0), jsonStr(e["reason"]))
		}
		seen = len(hist)
		state := jsonStr(m["state"])
		// At a final state, exit once the weights are in the rule too
		// (the record moves first: weightsPending).
		if pending, _ := m["weightsPending"].(bool); state != "RUNNING" && !pending {
			w, _ := m["weights"].(map[string]any)
			fmt.Fprintf(out, "%s: baseline %s / canary %s\n", state, num(w["baseline"], 0), num(w["canary"], 0))
			if state == "PROMOTED" {
				return nil
			}
			return fmt.Errorf("canary %s %s: %s", id, state, jsonStr(m["reason"]))
		}
		select {
		case <-cmd.Context().Done():
			return cmd.Context().Err()
		case <-time.After(poll):
		}
	}
}

func jsonStr(v any) string { s, _ := v.(string); return s }

// num prints a JSON number plus add (stepIndex is shown from 1).
func num(v any, add int) string {
	f, ok := v.(float64)
	if !ok {
		return "?"
	}
	return strconv.Itoa(int(f) + add)
}
