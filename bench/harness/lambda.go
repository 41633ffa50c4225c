package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// The Lambda phase: warm invocations of a function Trellis hosts
// (bench/lambdafn, aws-lambda-go) through a service whose listener forwards
// to a LAMBDA target group (V2 events), against the same function's runtime
// driven directly (bench/lambdadirect). Both put the function's workers on
// the proxies' core and the load on the other, so what differs is the path:
// an HTTP request, the Lattice request, the event's encoding and the
// function host, against the runtime's own round trip alone.

// lambdaConc is the invocations in flight in the closed loop, and the
// workers lambdadirect starts. Trellis starts workers on demand up to the
// function's maxConcurrency, lambdaMaxConc: above lambdaConc, so that a
// burst of the open loop (the machine is noisy) starts a worker instead of
// being throttled (503), where lambdadirect queues it.
const (
	lambdaConc    = 16
	lambdaMaxConc = 64
)

// lambdaRate is the open loop's rate (invocations per second).
const lambdaRate = 1000

// lambdaBody is what bench/lambdafn answers.
const lambdaBody = "hello from lambda\n"

// lambdaSetup is the hosted function the measured service forwards to.
type lambdaSetup struct {
	Command        string `json:"command"`
	MaxConcurrency int    `json:"maxConcurrency"`
}

// create puts the function through Trellis's native API
// (PUT /trellis/v1/functions/bench-fn, signed like the Lattice API) and
// returns its ARN.
func (l *lambdaSetup) create(api string, sg *signer) (string, error) {
	body, _ := json.Marshal(map[string]any{"command": []string{l.Command}, "timeoutSeconds": 10, "maxConcurrency": l.MaxConcurrency})
	req, _ := http.NewRequest(http.MethodPut, "http://"+api+"/trellis/v1/functions/bench-fn", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), sg.creds, req, hex.EncodeToString(sum[:]), "vpc-lattice", sg.region, time.Now()); err != nil {
		return "", err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("put function: %w", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var out struct {
		FunctionArn string `json:"functionArn"`
	}
	if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusCreated || json.Unmarshal(b, &out) != nil || out.FunctionArn == "" {
		return "", fmt.Errorf("put function: %s: %s", res.Status, clip(string(b)))
	}
	return out.FunctionArn, nil
}

// LambdaRun is one measurement of the Lambda phase.
type LambdaRun struct {
	Round int    `json:"round"`
	Who   string `json:"who"`  // "trellis" or "direct"
	Kind  string `json:"kind"` // "capacity" (closed loop) or "latency" (open loop)
	// PerSec: capacity, requests (invocations) per second; Rate: the open
	// loop's. P50 and P99 in microseconds.
	PerSec   float64 `json:"perSec"`
	Rate     int     `json:"rate,omitempty"`
	P50, P99 float64
	Err      string `json:"err,omitempty"`
}

// directResult is what bench/lambdadirect prints (the part read here).
type directResult struct {
	OK           uint64    `json:"ok"`
	Errors       uint64    `json:"errors"`
	AchievedRate float64   `json:"achievedRate"`
	Latency      Quantiles `json:"latencyMicros"`
}

func runDirect(e *env, o *options, args ...string) (directResult, error) {
	full := loadCmd(o.cpuLoad, append([]string{filepath.Join(e.bin, "lambdadirect"), "-fn", filepath.Join(e.bin, "lambdafn"),
		"-workers", strconv.Itoa(lambdaConc), "-fn-cpu", o.cpuProxy}, args...)...)
	out, err := runCmd(2*time.Minute, nil, "taskset", full...)
	var r directResult
	if err == nil {
		if err = json.Unmarshal([]byte(out), &r); err == nil && (r.OK == 0 || r.Errors > 0) {
			err = fmt.Errorf("lambdadirect: %d ok, %d errors", r.OK, r.Errors)
		}
	}
	return r, err
}

// runLambda measures the phase: closed-loop capacity (wrk with lambdaConc
// connections; lambdadirect -c lambdaConc) and open-loop latency at
// lambdaRate, the two interleaved in every round.
func runLambda(e *env, o *options, res *Results, fail func(string, ...any), gap, alive func()) {
	logf("lambda: starting trellis with a hosted function behind a LAMBDA target group")
	t, _, _, err := launchTrellis(e, "trellis lambda", "127.179.0.0/16",
		featureSet{Lambda: &lambdaSetup{Command: filepath.Join(e.bin, "lambdafn"), MaxConcurrency: lambdaMaxConc}})
	if err != nil {
		fail("trellis lambda: %v", err)
		return
	}
	t.body = lambdaBody
	var st int
	var body string
	for start := time.Now(); time.Since(start) < 15*time.Second; time.Sleep(300 * time.Millisecond) {
		if st, body, _, err = get(t.Addr, t.Host, false); err == nil && st == 200 && body == lambdaBody {
			break
		}
	}
	if err != nil || st != 200 || body != lambdaBody {
		fail("trellis lambda does not answer with the function: status %d body %q err %v", st, clip(body), err)
		return
	}
	logf("lambda: trellis answers with the function (%s, Host %s)", t.Addr, t.Host)
	res.Params.LambdaConc, res.Params.LambdaMaxConc, res.Params.LambdaRate = lambdaConc, lambdaMaxConc, lambdaRate
	// Warm-up: every worker started on both paths.
	_ = runWrkC(o.cpuLoad, t, o.warmup, lambdaConc, nil)
	if _, err := runDirect(e, o, "-c", strconv.Itoa(lambdaConc), "-duration", o.warmup.String(), "-warmup", "0s"); err != nil {
		fail("lambdadirect warm-up: %v", err)
		return
	}
	for round := 1; round <= o.rounds; round++ {
		c := runWrkC(o.cpuLoad, t, o.capDur, lambdaConc, nil)
		r := LambdaRun{Round: round, Who: "trellis", Kind: "capacity", PerSec: c.ReqPerSec, Err: c.Err}
		if c.broken() {
			fail("trellis lambda capacity round %d: %s", round, describe(c))
			r.Err = describe(c)
		}
		res.Lambda = append(res.Lambda, r)
		gap()
		d, err := runDirect(e, o, "-c", strconv.Itoa(lambdaConc), "-duration", o.capDur.String(), "-warmup", "1s")
		r = LambdaRun{Round: round, Who: "direct", Kind: "capacity", PerSec: d.AchievedRate}
		if err != nil {
			fail("lambdadirect capacity round %d: %v", round, err)
			r.Err = err.Error()
		}
		res.Lambda = append(res.Lambda, r)
		logf("lambda capacity round %d/%d: trellis %8.0f req/s, direct %8.0f invocations/s", round, o.rounds, c.ReqPerSec, d.AchievedRate)
		gap()
		l := runLoadgen(e.bin, o.cpuLoad, t, lambdaRate, o.latDur, o.latWarmup)
		r = LambdaRun{Round: round, Who: "trellis", Kind: "latency", Rate: lambdaRate, PerSec: l.Result.AchievedRate,
			P50: l.Result.Latency.P50, P99: l.Result.Latency.P99, Err: l.Err}
		if l.broken() {
			fail("trellis lambda open loop round %d: %s", round, describeLat(l))
			r.Err = describeLat(l)
		}
		res.Lambda = append(res.Lambda, r)
		gap()
		d, err = runDirect(e, o, "-rate", strconv.Itoa(lambdaRate), "-duration", o.latDur.String(), "-warmup", o.latWarmup.String())
		r = LambdaRun{Round: round, Who: "direct", Kind: "latency", Rate: lambdaRate, PerSec: d.AchievedRate, P50: d.Latency.P50, P99: d.Latency.P99}
		if err != nil {
			fail("lambdadirect open loop round %d: %v", round, err)
			r.Err = err.Error()
		}
		res.Lambda = append(res.Lambda, r)
		logf("lambda latency at %d/s round %d/%d: trellis p50 %6.0fµs p99 %6.0fµs, direct p50 %6.0fµs p99 %6.0fµs",
			lambdaRate, round, o.rounds, l.Result.Latency.P50, l.Result.Latency.P99, d.Latency.P50, d.Latency.P99)
		gap()
		alive()
	}
}

// lambdaSection is the phase's table: medians over the rounds, with the
// range, Trellis's capacity as a ratio to the direct runtime's and its
// latency as what it adds.
func lambdaSection(b *bytes.Buffer, r *Results) {
	if len(r.Lambda) == 0 {
		return
	}
	pick := func(who, kind string, f func(LambdaRun) float64) summary {
		var xs []float64
		for _, x := range r.Lambda {
			if x.Who == who && x.Kind == kind && x.Err == "" {
				xs = append(xs, f(x))
			}
		}
		return summarize(xs)
	}
	per := func(x LambdaRun) float64 { return x.PerSec }
	p50 := func(x LambdaRun) float64 { return x.P50 }
	p99 := func(x LambdaRun) float64 { return x.P99 }
	tc, dc := pick("trellis", "capacity", per), pick("direct", "capacity", per)
	t50, d50 := pick("trellis", "latency", p50), pick("direct", "latency", p50)
	t99, d99 := pick("trellis", "latency", p99), pick("direct", "latency", p99)
	fmt.Fprintf(b, "\n### Lambda targets (warm invocations)\n\n")
	fmt.Fprintf(b, "bench/lambdafn (aws-lambda-go, answers a V2 event with %d bytes) hosted by Trellis behind a LAMBDA target group "+
		"(V2 events, maxConcurrency %d), against the same function's runtime driven directly by bench/lambdadirect (%d workers, "+
		"a pre-encoded event). The function's workers run on the proxy's core in both, the load on the other; wrk with %d "+
		"connections and loadgen at %d/s against Trellis, lambdadirect's closed and open loops with the same figures; "+
		"medians of %d round(s) [range].\n\n",
		len(lambdaBody), r.Params.LambdaMaxConc, r.Params.LambdaConc, r.Params.LambdaConc, r.Params.LambdaRate, r.Params.Rounds)
	fmt.Fprintf(b, "| | Trellis (HTTP request → function host) | the runtime directly | Trellis |\n|---|---|---|---|\n")
	ratio := "n/a"
	if dc.median > 0 {
		ratio = fmt.Sprintf("%.2f×", tc.median/dc.median)
	}
	fmt.Fprintf(b, "| closed loop, %d in flight, per second | %s [%s–%s] | %s [%s–%s] | %s |\n", r.Params.LambdaConc,
		thousands(tc.median), thousands(tc.min), thousands(tc.max), thousands(dc.median), thousands(dc.min), thousands(dc.max), ratio)
	fmt.Fprintf(b, "| p50 at %d/s, µs | %.0f [%.0f–%.0f] | %.0f [%.0f–%.0f] | +%.0f µs |\n", r.Params.LambdaRate,
		t50.median, t50.min, t50.max, d50.median, d50.min, d50.max, t50.median-d50.median)
	fmt.Fprintf(b, "| p99 at %d/s, µs | %.0f [%.0f–%.0f] | %.0f [%.0f–%.0f] | +%.0f µs |\n", r.Params.LambdaRate,
		t99.median, t99.min, t99.max, d99.median, d99.min, d99.max, t99.median-d99.median)
}
