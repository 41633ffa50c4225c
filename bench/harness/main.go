// Command harness runs Trellis side by side with nginx, HAProxy and Caddy
// in front of the same backend, and with the backend called directly: it
// builds trellis, the backend and the load generator, starts every server
// on loopback high ports with its own configuration in a temporary
// directory, checks that each target really proxies, measures closed-loop
// capacity (wrk for HTTP/1.1, h2load for h2c) and open-loop latency at fixed
// rates (bench/loadgen), and writes the tables into docs/benchmarks.md.
//
//	go run ./bench/harness -mode quick   # about a minute; fails only when something is broken
//	go run ./bench/harness -mode full    # 10-20 minutes; rewrites docs/benchmarks.md
//	go run ./bench/harness -report bench/results/full.json   # regenerate the docs only
//
// The proxies run on CPU 0 (taskset -c 0), the load generators and the
// backend on CPU 1. bench/install.sh installs the tools.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	mode        string
	capDur      time.Duration
	rounds      int
	warmup      time.Duration
	latDur      time.Duration
	latWarmup   time.Duration
	latRounds   int
	rates       []int
	targets     map[string]bool
	docs        string
	writeDocs   bool
	results     string
	keep        bool
	ingressCIDR string
	cpuProxy    string
	cpuLoad     string
	gap         time.Duration
	features    bool
	// The protocols suite (protocols.go).
	protocols     bool
	protocolsOnly bool
	protoDur      time.Duration
	protoWarmup   time.Duration
	protoRounds   int
	profileDir    string // CPU profiles of Trellis during the suite's h2c and gRPC runs; "" = none
	// The Lambda phase (lambda.go).
	lambda, lambdaOnly bool
}

func main() {
	var (
		mode      = flag.String("mode", "quick", "quick (about a minute, numbers are noisy) or full (10-20 minutes)")
		capDur    = flag.Duration("duration", 0, "capacity run length (default: quick 2s, full 10s)")
		rounds    = flag.Int("rounds", 0, "capacity rounds per target (default: quick 1, full 5)")
		warmup    = flag.Duration("warmup", 0, "capacity warm-up per target and protocol (default: quick 1s, full 3s)")
		latDur    = flag.Duration("lat-duration", 0, "open-loop run length (default: quick 2s, full 10s)")
		latRounds = flag.Int("lat-rounds", 0, "open-loop rounds per target and rate (default: quick 1, full 3)")
		rates     = flag.String("rates", "1000,5000", "open-loop request rates, comma-separated")
		targets   = flag.String("targets", strings.Join(targetOrder, ","), "targets to run, comma-separated")
		docs      = flag.String("docs", "", "benchmarks page to update (default docs/benchmarks.md in full mode; none in quick mode)")
		results   = flag.String("results", "", "where to write the results JSON (default: full bench/results/full.json, quick a temp file)")
		report    = flag.String("report", "", "only regenerate the docs from this results JSON (with -protocols-only: print its protocols table)")
		keep      = flag.Bool("keep", false, "keep the temp directory (configs, logs)")
		features  = flag.Bool("features", true, "run the features phase (trellis with 100 services, rules, a split, auth; as a ratio to trellis plain)")
		protocols = flag.Bool("protocols", true, "run the protocols suite (HTTPS, new TLS handshakes, h2 over TLS, h2c, gRPC, WebSocket; ratios to nginx)")
		protoOnly = flag.Bool("protocols-only", false, "run only the protocols suite (no capacity, features or latency phases; the docs are not rewritten)")
		protoDur  = flag.Duration("proto-duration", 0, "protocols suite run length (default: quick 1s, full 5s)")
		protoRds  = flag.Int("proto-rounds", 0, "protocols suite rounds (default: quick 1, full 3)")
		profile   = flag.String("profile", "", "directory for CPU profiles (pprof) of Trellis during the protocols suite's first h2c, h2-tls and gRPC rounds; Trellis is then built with bench/profile/pprof.go overlaid")
		lambda    = flag.Bool("lambda", true, "run the Lambda phase (a function hosted by Trellis behind a LAMBDA target group, against its runtime driven directly)")
		lambdaOn  = flag.Bool("lambda-only", false, "run only the Lambda phase (the docs are not rewritten; its table is printed)")
		cidr      = flag.String("ingress-cidr", "127.203.0.0/24", "Trellis's --ingress-cidr (away from the default, so a developer's Trellis does not collide)")
		protoScs  = flag.String("proto-scenarios", "", "protocols suite scenarios to run, comma-separated (default all): "+protoScenarioKeys())
		featOnly  = flag.String("feature-variants", "", "features phase: only these variants beside trellis plain, comma-separated names (e.g. \"metrics on,tracing on\"; default all)")
		trFlags   = flag.String("trellis-flags", "", "extra flags for `trellis serve`, space-separated (e.g. \"--ingress-server net-http-h2\" to compare HTTP/2 servers)")
	)
	flag.Parse()
	if *protoScs != "" {
		protoOnlyScenarios = map[string]bool{}
		for _, k := range strings.Split(*protoScs, ",") {
			protoOnlyScenarios[strings.TrimSpace(k)] = true
		}
	}
	trellisExtraFlags = strings.Fields(*trFlags)
	if *featOnly != "" {
		if err := selectFeatureVariants(strings.Split(*featOnly, ",")); err != nil {
			fatal(err)
		}
	}
	root, err := repoRoot()
	if err != nil {
		fatal(err)
	}
	if *report != "" {
		var r Results
		b, err := os.ReadFile(*report)
		if err == nil {
			err = json.Unmarshal(b, &r)
		}
		if err != nil {
			fatal(err)
		}
		if *protoOnly { // a protocols-only run: print its table, touch no docs
			var b bytes.Buffer
			protocolsSection(&b, &r)
			fmt.Print(b.String())
			return
		}
		path := *docs
		if path == "" {
			path = filepath.Join(root, "docs", "benchmarks.md")
		}
		if err := updateDocs(path, &r); err != nil {
			fatal(err)
		}
		fmt.Println("wrote", path)
		return
	}
	o := options{mode: *mode, capDur: *capDur, rounds: *rounds, warmup: *warmup, latDur: *latDur, latRounds: *latRounds,
		docs: *docs, results: *results, keep: *keep, ingressCIDR: *cidr, features: *features,
		protocols: *protocols || *protoOnly, protocolsOnly: *protoOnly, protoDur: *protoDur, protoRounds: *protoRds, profileDir: *profile, lambda: *lambda || *lambdaOn, lambdaOnly: *lambdaOn, cpuProxy: "0", cpuLoad: "1", targets: map[string]bool{}}
	switch o.mode {
	case "quick":
		def(&o.capDur, 2*time.Second)
		defInt(&o.rounds, 1)
		def(&o.warmup, time.Second)
		def(&o.latDur, 2*time.Second)
		defInt(&o.latRounds, 1)
		o.latWarmup = 500 * time.Millisecond
		o.gap = 200 * time.Millisecond
		def(&o.protoDur, time.Second)
		defInt(&o.protoRounds, 1)
		o.protoWarmup = time.Second // h2load -D over TLS can hang without one
		if o.results == "" {
			o.results = filepath.Join(os.TempDir(), "trellis-bench-quick.json")
		}
	case "full":
		def(&o.capDur, 10*time.Second)
		defInt(&o.rounds, 5)
		def(&o.warmup, 3*time.Second)
		def(&o.latDur, 10*time.Second)
		defInt(&o.latRounds, 3)
		o.latWarmup = time.Second
		o.gap = time.Second
		def(&o.protoDur, 5*time.Second)
		defInt(&o.protoRounds, 3)
		o.protoWarmup = time.Second
		if o.docs == "" {
			o.docs = filepath.Join(root, "docs", "benchmarks.md")
		}
		if o.results == "" && o.protocolsOnly {
			o.results = filepath.Join(root, "bench", "results", "protocols.json")
		}
		if o.results == "" && o.lambdaOnly {
			o.results = filepath.Join(root, "bench", "results", "lambda.json")
		}
		if o.results == "" {
			o.results = filepath.Join(root, "bench", "results", "full.json")
		}
	default:
		fatal(fmt.Errorf("-mode: want quick or full, got %q", o.mode))
	}
	o.writeDocs = o.docs != "" && !o.protocolsOnly && !o.lambdaOnly
	if o.capDur < time.Second || o.latDur < 500*time.Millisecond {
		fatal(errors.New("-duration must be at least 1s and -lat-duration at least 500ms"))
	}
	for _, f := range strings.Split(*rates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 || n > 100000 {
			fatal(fmt.Errorf("-rates: bad rate %q", f))
		}
		o.rates = append(o.rates, n)
	}
	for _, t := range strings.Split(*targets, ",") {
		o.targets[strings.TrimSpace(t)] = true
	}
	if !o.targets["direct"] {
		fatal(errors.New("-targets must include direct (the baseline)"))
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sig
		fmt.Fprintf(os.Stderr, "\nbench: %v: stopping the servers\n", s)
		stopAll()
		os.Exit(130)
	}()

	res, err := run(root, &o)
	stopAll()
	if res != nil {
		if werr := writeResults(o.results, res); werr != nil {
			fmt.Fprintln(os.Stderr, "bench:", werr)
		} else {
			fmt.Fprintln(os.Stderr, "bench: results in", o.results)
		}
		fmt.Println()
		if o.protocolsOnly || o.lambdaOnly {
			var b bytes.Buffer
			protocolsSection(&b, res)
			lambdaSection(&b, res)
			fmt.Println(b.String())
		} else {
			fmt.Println(markdown(res))
		}
	}
	if err != nil {
		fatal(err)
	}
	if len(res.Failures) > 0 {
		fmt.Fprintf(os.Stderr, "bench: FAILED: %d problem(s):\n  %s\n", len(res.Failures), strings.Join(res.Failures, "\n  "))
		os.Exit(1)
	}
	if o.writeDocs {
		if err := updateDocs(o.docs, res); err != nil {
			fatal(err)
		}
		fmt.Fprintln(os.Stderr, "bench: updated", o.docs)
	}
	fmt.Fprintln(os.Stderr, "bench: OK")
}

func def(d *time.Duration, v time.Duration) {
	if *d == 0 {
		*d = v
	}
}

func defInt(d *int, v int) {
	if *d == 0 {
		*d = v
	}
}

func fatal(err error) {
	stopAll()
	fmt.Fprintln(os.Stderr, "bench: FAILED:", err)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/trellis-net/trellis\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the trellis repository")
		}
		dir = parent
	}
}

func writeResults(path string, r *Results) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// run does the whole benchmark. A returned error means nothing could be
// measured; problems with one target are in Results.Failures.
func run(root string, o *options) (*Results, error) {
	for _, tool := range []string{"taskset", "wrk", "h2load"} {
		if _, err := lookBin(tool); err != nil {
			return nil, err
		}
	}
	for _, name := range []string{"nginx", "haproxy", "caddy"} {
		if o.targets[name] {
			if _, err := lookBin(name); err != nil {
				return nil, err
			}
		}
	}
	dir, err := os.MkdirTemp("", "trellis-bench-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		logf("configs and logs in %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	e := &env{dir: dir, bin: filepath.Join(dir, "bin"), cpuProxy: o.cpuProxy, cpuLoad: o.cpuLoad}

	build := strings.TrimSpace(combinedOutput("git", "-C", root, "describe", "--always", "--dirty"))
	if build == "" || strings.Contains(build, "fatal") {
		build = "dev"
	}
	logf("building trellis (%s), the backend and the load generator", build)
	trellisBuild := []string{"-ldflags", "-X main.version=" + build, "-o", filepath.Join(e.bin, "trellis"), "./cmd/trellis"}
	if o.profileDir != "" {
		ov, err := writeProfileOverlay(root, dir)
		if err != nil {
			return nil, err
		}
		trellisBuild = append([]string{"-tags", "trellisbenchprofile", "-overlay", ov}, trellisBuild...)
		e.pprof = true
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return nil, err
		}
	}
	for _, b := range [][]string{
		trellisBuild,
		{"-o", filepath.Join(e.bin, "backend"), "./bench/backend"},
		{"-o", filepath.Join(e.bin, "loadgen"), "./bench/loadgen"},
		{"-o", filepath.Join(e.bin, "protoload"), "./bench/protoload"},
		{"-o", filepath.Join(e.bin, "lambdafn"), "./bench/lambdafn"},
		{"-o", filepath.Join(e.bin, "lambdadirect"), "./bench/lambdadirect"},
	} {
		args := append([]string{"-C", root, "build"}, b...)
		if _, err := runCmd(10*time.Minute, nil, "go", args...); err != nil {
			return nil, err
		}
	}

	res := &Results{Mode: o.mode, Started: time.Now(), Machine: machineInfo(), Params: Params{
		CapDuration: o.capDur.String(), Rounds: o.rounds, Warmup: o.warmup.String(),
		LatDuration: o.latDur.String(), LatWarmup: o.latWarmup.String(), LatRounds: o.latRounds,
		Rates: o.rates, CPUProxy: o.cpuProxy, CPULoad: o.cpuLoad, TrellisBuild: build}}
	fail := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		res.Failures = append(res.Failures, msg)
		logf("FAIL: %s", msg)
	}
	gap := func() { time.Sleep(o.gap) }
	alive := func() {
		procsMu.Lock()
		defer procsMu.Unlock()
		for _, p := range procs {
			if p.exited() {
				fail("%s exited during the run (%v): %s", p.name, p.err, tail(p.log, 5))
				p.err = nil
				procs = removeProc(procs, p)
				return
			}
		}
	}
	if o.lambdaOnly {
		runLambda(e, o, res, fail, gap, alive)
		res.Finished = time.Now()
		return res, nil
	}

	// Start and configure: the backend first, Trellis second (its service's
	// DNS name is the Host every target is asked for), then the others.
	direct, err := startBackend(e)
	if err != nil {
		return nil, fmt.Errorf("backend: %w", err)
	}
	var targets []*Target
	if o.targets["trellis"] {
		logf("starting trellis and configuring it with the trellis CLI")
		t, err := startTrellis(e, o.ingressCIDR)
		if err != nil {
			fail("trellis: %v", err)
			forget("trellis")
		} else {
			targets = append(targets, t)
		}
	}
	if e.host == "" {
		e.host = "bench-svc.bench.invalid"
	}
	if o.protocols {
		if e.tls, err = newPKI(filepath.Join(dir, "pki"), e.host); err != nil {
			return nil, fmt.Errorf("certificates: %w", err)
		}
	}
	direct.Host = e.host
	targets = append([]*Target{direct}, targets...)
	starters := []struct {
		name  string
		start func(*env) (*Target, error)
	}{{"nginx", startNginx}, {"haproxy", startHAProxy}, {"caddy", startCaddy}}
	for _, s := range starters {
		if !o.targets[s.name] {
			continue
		}
		logf("starting %s", s.name)
		t, err := s.start(e)
		if err != nil {
			fail("%s: %v", s.name, err)
			forget(s.name)
			continue
		}
		targets = append(targets, t)
	}

	// Every target must really proxy before anything is measured.
	var ok []*Target
	for _, t := range targets {
		if err := verify(t); err != nil {
			fail("%v", err)
			forget(t.Name)
			continue
		}
		logf("%s proxies: %s → backend (Host %s)", t.Name, t.Addr, t.Host)
		ok = append(ok, t)
	}
	for _, t := range ok {
		res.Targets = append(res.Targets, *t)
	}
	if len(ok) == 0 {
		return res, errors.New("no target works")
	}

	if o.protocolsOnly {
		runProtocols(e, o, res, ok, fail, gap, alive)
		res.Finished = time.Now()
		return res, nil
	}

	// Capacity, HTTP/1.1 then h2c; targets interleaved in every round.
	phases := []struct {
		name string
		runf func(string, *Target, time.Duration) CapRun
		out  *[]CapRun
		h2c  bool
	}{{"HTTP/1.1 (wrk)", runWrk, &res.HTTP1, false}, {"h2c (h2load)", runH2load, &res.H2C, true}}
	for _, ph := range phases {
		var ts []*Target
		for _, t := range ok {
			if ph.h2c && t.H2CAddr == "" {
				res.Skipped = append(res.Skipped, SkipNote{Target: t.Name, What: "h2c", Why: t.H2CNote})
				continue
			}
			ts = append(ts, t)
		}
		logf("capacity %s: warm-up %s per target", ph.name, o.warmup)
		for _, t := range ts {
			if r := ph.runf(o.cpuLoad, t, o.warmup); r.broken() {
				fail("%s %s warm-up: %s", t.Name, ph.name, describe(r))
			}
			gap()
		}
		for round := 1; round <= o.rounds; round++ {
			for _, t := range ts {
				r := ph.runf(o.cpuLoad, t, o.capDur)
				r.Round = round
				logf("capacity %s round %d/%d %-8s %10.0f req/s  errors %d non-2xx %d %s", ph.name, round, o.rounds, t.Name, r.ReqPerSec, r.Errors, r.Non2xx, r.Err)
				if r.broken() {
					fail("%s %s round %d: %s", t.Name, ph.name, round, describe(r))
				}
				*ph.out = append(*ph.out, r)
				gap()
			}
			alive()
		}
	}

	// Trellis with its features on, each as a ratio to trellis plain.
	if o.features {
		var plain *Target
		for _, t := range ok {
			if t.Name == "trellis" {
				plain = t
			}
		}
		if plain == nil {
			res.Skipped = append(res.Skipped, SkipNote{Target: "trellis", What: "features", Why: "trellis is not running"})
		} else {
			runFeatures(e, o, res, plain, fail, gap, alive)
		}
	}

	if o.protocols {
		runProtocols(e, o, res, ok, fail, gap, alive)
	}

	if o.lambda {
		runLambda(e, o, res, fail, gap, alive)
	}

	// Open-loop latency at fixed rates.
	for round := 1; round <= o.latRounds; round++ {
		for _, rate := range o.rates {
			for _, t := range ok {
				r := runLoadgen(e.bin, o.cpuLoad, t, rate, o.latDur, o.latWarmup)
				r.Round = round
				q := r.Result.Latency
				logf("latency %5d req/s round %d/%d %-8s p50 %7.0fµs p99 %7.0fµs max %7.0fµs errors %d late %d %s",
					rate, round, o.latRounds, t.Name, q.P50, q.P99, q.Max, r.Result.Errors+r.Result.BadStatus, r.Result.Late, r.Err)
				if r.broken() {
					fail("%s open loop at %d req/s round %d: %s", t.Name, rate, round, describeLat(r))
				}
				res.Latency = append(res.Latency, r)
				gap()
			}
			alive()
		}
	}
	res.Finished = time.Now()
	return res, nil
}

func removeProc(ps []*proc, p *proc) []*proc {
	out := ps[:0]
	for _, q := range ps {
		if q != p {
			out = append(out, q)
		}
	}
	return out
}

func describe(r CapRun) string {
	if r.Err != "" {
		return r.Err
	}
	return fmt.Sprintf("%d requests, %d errors, %d non-2xx answers", r.Requests, r.Errors, r.Non2xx)
}

func describeLat(r LatRun) string {
	if r.Err != "" {
		return r.Err
	}
	x := r.Result
	return fmt.Sprintf("%d ok, %d errors, %d bad answers %v", x.OK, x.Errors, x.BadStatus, x.ErrorSamples)
}
