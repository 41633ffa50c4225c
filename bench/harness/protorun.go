package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// protoTargets are the targets the suite measures, in report order; Caddy
// is not part of it (issue 12 asks for nginx and HAProxy).
var protoTargets = []string{"direct", "trellis", "nginx", "haproxy"}

// ProtoloadResult is bench/protoload's output.
type ProtoloadResult struct {
	Mode         string   `json:"mode"`
	Seconds      float64  `json:"seconds"`
	Requests     int64    `json:"requests"`
	Errors       int64    `json:"errors"`
	PerSec       float64  `json:"perSec"`
	Detail       string   `json:"detail"`
	ErrorSamples []string `json:"errorSamples"`
}

// parseProtoload reads protoload's one JSON line.
func parseProtoload(out string) (ProtoRun, error) {
	var p ProtoloadResult
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return ProtoRun{}, fmt.Errorf("protoload output: %v: %q", err, clip(out))
	}
	if p.Seconds <= 0 || p.Requests < 0 || p.Errors < 0 || p.PerSec < 0 {
		return ProtoRun{}, fmt.Errorf("protoload output: impossible numbers: %q", clip(out))
	}
	r := ProtoRun{PerSec: p.PerSec, Requests: p.Requests, Errors: p.Errors, Detail: p.Detail}
	if len(p.ErrorSamples) > 0 {
		r.Detail += "; errors: " + strings.Join(p.ErrorSamples, " | ")
	}
	return r, nil
}

// protoCmd is the load command of scenario sc against t for d (warm-up w),
// as taskset arguments.
func protoCmd(binDir, cpu string, sc string, t *Target, d, w time.Duration) []string {
	addr, host := t.Proto[sc], t.hostFor(sc)
	_, port, _ := net.SplitHostPort(addr)
	h2 := func(extra ...string) []string {
		args := []string{"h2load", "-t1", "-D", secs(d)}
		if w > 0 {
			args = append(args, "--warm-up-time="+secs(w))
		}
		return loadCmd(cpu, append(args, extra...)...)
	}
	pl := func(extra ...string) []string {
		args := []string{filepath.Join(binDir, "protoload"), "-addr", addr, "-host", host,
			"-duration", d.String(), "-warmup", w.String(), "-timeout", "5s"}
		return loadCmd(cpu, append(args, extra...)...)
	}
	switch sc {
	case scHTTPS:
		return h2("--h1", "-c64", "-m1", "--connect-to="+addr, "https://"+net.JoinHostPort(host, port)+"/")
	case scH2TLS:
		return h2("-c32", "-m10", "--connect-to="+addr, "https://"+net.JoinHostPort(host, port)+"/")
	case scH2C:
		return h2("-c32", "-m10", "-H", ":authority: "+host, "http://"+addr+"/")
	case scTLS13:
		return pl("-mode", "tls", "-tls", "1.3", "-c", "32", "-ca", t.caFile)
	case scTLS12:
		return pl("-mode", "tls", "-tls", "1.2", "-c", "32", "-ca", t.caFile)
	case scGRPC:
		return pl("-mode", "grpc", "-c", "64", "-conns", "4", "-size", "64")
	case scWS:
		return pl("-mode", "ws", "-c", "32", "-size", "64")
	}
	panic("unknown scenario " + sc)
}

// protoOnlyScenarios, when set (-proto-scenarios), limits the suite to
// these scenarios.
var protoOnlyScenarios map[string]bool

func protoScenarioKeys() string {
	var keys []string
	for _, s := range protoScenarios {
		keys = append(keys, s.Key)
	}
	return strings.Join(keys, ",")
}

// runProto runs one measurement.
func runProto(binDir, cpu, sc string, t *Target, d, w time.Duration) ProtoRun {
	args := protoCmd(binDir, cpu, sc, t, d, w)
	out, err := runCmd(d+w+30*time.Second, nil, "taskset", args...)
	r := ProtoRun{Scenario: sc, Target: t.Name}
	if err != nil {
		r.Err = err.Error()
		return r
	}
	var p ProtoRun
	if strings.HasPrefix(args[2], "h2load") {
		var c CapRun
		c, err = parseH2load(out)
		p = ProtoRun{PerSec: c.ReqPerSec, Requests: c.Requests, Errors: c.Errors, Non2xx: c.Non2xx}
	} else {
		p, err = parseProtoload(out)
	}
	if err != nil {
		r.Err = err.Error()
		return r
	}
	p.Scenario, p.Target = sc, t.Name
	return p
}

// probeProto checks that t serves scenario sc: one request (or a short
// protoload run, which probes first) must come back right.
func probeProto(binDir, cpu, sc string, t *Target) error {
	addr, host := t.Proto[sc], t.hostFor(sc)
	switch sc {
	case scHTTPS:
		return tlsGet(addr, host, t.caFile, false)
	case scH2TLS:
		return tlsGet(addr, host, t.caFile, true)
	case scH2C:
		st, body, proto, err := get(addr, host, true)
		if err == nil && (st != 200 || body != backendBody || proto != "HTTP/2.0") {
			err = fmt.Errorf("%s status %d body %q", proto, st, clip(body))
		}
		return err
	}
	// protoload probes before it measures and exits 1 when the probe
	// fails; a short run with one worker must then also be free of errors.
	r := runProto(binDir, cpu, sc, t, time.Second, 0)
	if r.Err != "" {
		return errors.New(cmdError(r.Err))
	}
	if r.Errors > 0 {
		return fmt.Errorf("%d ok, %d errors (%s)", r.Requests, r.Errors, r.Detail)
	}
	return nil
}

// cmdError is what a failed command said (runCmd's error without the
// command line, which only repeats the addresses).
func cmdError(s string) string {
	if _, rest, ok := strings.Cut(s, ": exit status "); ok {
		if _, msg, ok := strings.Cut(rest, ": "); ok {
			s = msg
		}
	}
	return oneLine(s)
}

// runProtocols is the suite: probe every (scenario, target), then rounds of
// every scenario with the targets interleaved.
func runProtocols(e *env, o *options, res *Results, ok []*Target, fail func(string, ...any), gap, alive func()) {
	byName := map[string]*Target{}
	for _, t := range ok {
		byName[t.Name] = t
	}
	// Trellis gets the suite's listeners and services only now, so that the
	// phases before measured it configured exactly as they say.
	if t := byName["trellis"]; t != nil {
		t.caFile = filepath.Join(e.dir, "pki", "trellis-ca.pem")
		trellisProtocols(e, t, t.caFile)
		for i := range res.Targets {
			if res.Targets[i].Name == "trellis" {
				res.Targets[i].Proto, res.Targets[i].ProtoNote, res.Targets[i].ProtoHost = t.Proto, t.ProtoNote, t.ProtoHost
			}
		}
	}
	res.ProtoScenarios = protoScenarios
	res.Params.ProtoDuration, res.Params.ProtoWarmup, res.Params.ProtoRounds = o.protoDur.String(), o.protoWarmup.String(), o.protoRounds
	type pair struct {
		sc string
		t  *Target
	}
	var todo []pair
	for _, sc := range protoScenarios {
		if protoOnlyScenarios != nil && !protoOnlyScenarios[sc.Key] {
			continue
		}
		for _, name := range protoTargets {
			t := byName[name]
			if t == nil {
				continue
			}
			if t.Proto[sc.Key] == "" {
				if why := t.ProtoNote[sc.Key]; why != "" {
					res.Skipped = append(res.Skipped, SkipNote{Target: name, What: sc.Key, Why: "n/a (not served): " + why})
				} else if name == "direct" {
					res.Skipped = append(res.Skipped, SkipNote{Target: name, What: sc.Key, Why: "the backend does not serve it (no TLS)"})
				} else {
					fail("%s has no address for %s", name, sc.Key)
				}
				continue
			}
			err := probeProto(e.bin, o.cpuLoad, sc.Key, t)
			// Trellis's suite configuration was just made: give the
			// cleartext listeners' routes time to propagate (as verify does).
			for start := time.Now(); err != nil && name == "trellis" && (sc.Key == scH2C || sc.Key == scGRPC || sc.Key == scWS) &&
				time.Since(start) < 10*time.Second; {
				time.Sleep(500 * time.Millisecond)
				err = probeProto(e.bin, o.cpuLoad, sc.Key, t)
			}
			if err != nil {
				if name == "trellis" {
					res.Skipped = append(res.Skipped, SkipNote{Target: name, What: sc.Key, Why: "n/a (not served): " + oneLine(err.Error())})
					logf("protocols %-9s %-8s n/a (not served): %s", sc.Key, name, oneLine(err.Error()))
				} else {
					fail("%s %s probe: %v", name, sc.Key, err)
				}
				continue
			}
			logf("protocols %-9s %-8s serves it (%s)", sc.Key, name, t.Proto[sc.Key])
			todo = append(todo, pair{sc.Key, t})
		}
	}
	for round := 1; round <= o.protoRounds; round++ {
		for _, p := range todo {
			var prof chan error
			path := filepath.Join(o.profileDir, "trellis-"+p.sc+".pprof")
			if o.profileDir != "" && round == 1 && p.t.pprofAddr != "" && (p.sc == scH2C || p.sc == scH2TLS || p.sc == scGRPC) {
				prof = make(chan error, 1)
				go func() { prof <- fetchProfile(p.t.pprofAddr, o.protoWarmup, o.protoDur, path) }()
			}
			r := runProto(e.bin, o.cpuLoad, p.sc, p.t, o.protoDur, o.protoWarmup)
			r.Round = round
			if prof != nil {
				if err := <-prof; err != nil {
					logf("profile of trellis during %s: %v", p.sc, err)
				} else {
					logf("profile of trellis during %s: %s (go tool pprof -top %s %s)", p.sc, path, filepath.Join(e.bin, "trellis"), path)
				}
			}
			logf("protocols %-9s round %d/%d %-8s %10.0f /s  errors %d non-2xx %d %s", p.sc, round, o.protoRounds, p.t.Name, r.PerSec, r.Errors, r.Non2xx, r.Err)
			if r.broken() {
				fail("%s %s round %d: %s", p.t.Name, p.sc, round, describeProto(r))
			}
			res.Protocols = append(res.Protocols, r)
			gap()
		}
		alive()
	}
}

func describeProto(r ProtoRun) string {
	if r.Err != "" {
		return r.Err
	}
	return fmt.Sprintf("%d done, %d errors, %d non-2xx (%s)", r.Requests, r.Errors, r.Non2xx, r.Detail)
}

// protoPorts are the four extra ports a proxy opens for the suite.
func protoPorts() (p13, p12, pg, pw int, err error) {
	ps, err := freePorts(4)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	return ps[0], ps[1], ps[2], ps[3], nil
}

func isProtoScenario(key string) bool {
	for _, s := range protoScenarios {
		if s.Key == key {
			return true
		}
	}
	return false
}

// protocolsSection is the suite's table: per scenario, the median over
// rounds of every target, and each target's ratio to nginx; a target that
// does not serve a scenario shows why.
func protocolsSection(b *bytes.Buffer, r *Results) {
	if len(r.ProtoScenarios) == 0 {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("\n### Protocols (issue 12)\n\n")
	p("%s per run after a %s warm-up, %d round(s), targets interleaved; the median over rounds, "+
		"in brackets the ratio of medians to nginx's, in square brackets the range over the rounds. The proxies on CPU %s, the load and the backend on CPU %s.\n\n",
		r.Params.ProtoDuration, orDash(r.Params.ProtoWarmup), r.Params.ProtoRounds, r.Params.CPUProxy, r.Params.CPULoad)
	p("| scenario | load | %s |\n|---|---|%s\n", strings.Join(protoTargets, " | "), strings.Repeat("---:|", len(protoTargets)))
	for _, sc := range r.ProtoScenarios {
		med := map[string]float64{}
		rng := map[string]string{}
		for _, t := range protoTargets {
			var xs []float64
			for _, x := range r.Protocols {
				if x.Scenario == sc.Key && x.Target == t && !x.broken() {
					xs = append(xs, x.PerSec)
				}
			}
			if len(xs) > 0 {
				sm := summarize(xs)
				med[t] = sm.median
				if len(xs) > 1 {
					rng[t] = fmt.Sprintf(" [%s–%s]", thousands(sm.min), thousands(sm.max))
				}
			}
		}
		cells := make([]string, 0, len(protoTargets))
		for _, t := range protoTargets {
			v, ok := med[t]
			switch {
			case ok && med["nginx"] > 0:
				cells = append(cells, fmt.Sprintf("%s (%.2f×)%s", thousands(v), v/med["nginx"], rng[t]))
			case ok:
				cells = append(cells, thousands(v)+rng[t])
			case skipReason(r, t, sc.Key) != "":
				cells = append(cells, "n/a")
			default:
				cells = append(cells, "—")
			}
		}
		p("| %s, %s | %s | %s |\n", sc.Title, sc.Unit, sc.Tool, strings.Join(cells, " | "))
	}
	p("\n")
	for _, s := range r.Skipped {
		if isProtoScenario(s.What) {
			p("- %s, %s: %s\n", s.Target, s.What, s.Why)
		}
	}
}

func skipReason(r *Results, target, what string) string {
	for _, s := range r.Skipped {
		if s.Target == target && s.What == what {
			return s.Why
		}
	}
	return ""
}

// fetchProfile takes a CPU profile of a profiling build of Trellis (see
// bench/profile/pprof.go) while a measurement runs: it waits out the
// warm-up, then profiles for the run's length less a second.
func fetchProfile(addr string, warm, d time.Duration, path string) error {
	time.Sleep(warm + 300*time.Millisecond)
	n := max(1, int(d/time.Second)-1)
	c := &http.Client{Timeout: time.Duration(n)*time.Second + 10*time.Second}
	res, err := c.Get("http://" + addr + "/debug/pprof/profile?seconds=" + strconv.Itoa(n))
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof answered %s", res.Status)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// writeProfileOverlay writes the `go build -overlay` file that adds
// bench/profile/pprof.go to cmd/trellis.
func writeProfileOverlay(root, dir string) (string, error) {
	b, err := json.Marshal(map[string]any{"Replace": map[string]string{
		filepath.Join(root, "cmd", "trellis", "zz_bench_pprof.go"): filepath.Join(root, "bench", "profile", "pprof.go"),
	}})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "pprof-overlay.json")
	return path, os.WriteFile(path, b, 0o644)
}
