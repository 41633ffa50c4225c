package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// featureSet is what one Trellis instance of the features phase has on
// top of the plain configuration (one network, one service, one listener,
// one target group).
type featureSet struct {
	ExtraServices int  `json:"extraServices"` // services besides the measured one, each with a listener on the same port and its own target group
	Rules         int  `json:"rules"`         // non-matching custom rules before the default action
	Split         bool `json:"split"`         // default action forwards 90/10 to two target groups
	Auth          bool `json:"auth"`          // AWS_IAM on the network and the service, allow policy with one condition; requests are SigV4-signed
	StdServer     bool `json:"stdServer"`     // --ingress-server net-http: Go's standard server instead of Trellis's own HTTP/1.x server
	Metrics       bool `json:"metrics"`       // --metrics-addr: the Prometheus series of every request (scraped once to check)
	Tracing       bool `json:"tracing"`       // --otlp-endpoint to the harness's OTLP/HTTP sink, --trace-sample 1: every request's spans exported (the sink is checked to receive some)
	AccessLogs    bool `json:"accessLogs"`    // access log subscriptions on the service (CloudWatch Logs group) and the network (S3 bucket); both written to the data directory
	// Lambda, when set, is the function the measured service forwards to
	// instead of the backend (the Lambda phase, lambda.go).
	Lambda *lambdaSetup `json:"lambda,omitempty"`
}

// featureVariant is one configuration of the features phase, measured as a
// ratio to "trellis plain".
type featureVariant struct {
	Name  string
	About string
	Set   featureSet
	CIDR  string
}

// plainName is the features phase's baseline: the capacity phase's trellis
// target, configured exactly like it.
const plainName = "trellis plain"

var featureVariants = []featureVariant{
	{"100 services", "99 extra services (own listener on the same port, own target group → the backend), all associated with the network; requests go to the measured service (one more of the 100), and extra-svc-001 is checked to answer for its own Host",
		featureSet{ExtraServices: 99}, "127.172.0.0/16"},
	{"5 rules", "5 custom rules (path prefix / header matches) that do not match, evaluated before the default action",
		featureSet{Rules: 5}, "127.173.0.0/16"},
	{"90/10 split", "default action forwards 90/10 to two target groups (both → the backend)",
		featureSet{Split: true}, "127.174.0.0/16"},
	{"auth on", "AWS_IAM on network and service, allow policy with one condition (RequestMethod = GET); every request SigV4-signed (UNSIGNED-PAYLOAD)",
		featureSet{Auth: true}, "127.175.0.0/16"},
	{"access logs on", "access log subscriptions on the service (CloudWatch Logs group) and on the network (S3 bucket): every request is written twice, as a JSON line and into a gzip object, under the data directory",
		featureSet{AccessLogs: true}, "127.178.0.0/16"},
	{"all on", "all five above together",
		featureSet{ExtraServices: 99, Rules: 5, Split: true, Auth: true, AccessLogs: true}, "127.176.0.0/16"},
	{"metrics on", "plain configuration with Prometheus metrics on (`--metrics-addr`): every request counted and timed per service and target group",
		featureSet{Metrics: true}, "127.180.0.0/16"},
	{"tracing on", "plain configuration with OpenTelemetry tracing on at 100% sampling (`--otlp-endpoint` to an OTLP/HTTP sink in the harness that reads and discards, `--trace-sample 1`): a server and a client span per request, exported in batches",
		featureSet{Tracing: true}, "127.181.0.0/16"},
	{"net/http server", "plain configuration served by Go's standard HTTP server (`--ingress-server net-http`) instead of Trellis's own HTTP/1.x server: what the purpose-built server buys",
		featureSet{StdServer: true}, "127.177.0.0/16"},
}

// FeatureRun is one capacity run of the features phase.
type FeatureRun struct {
	Config string `json:"config"`
	CapRun
}

// FeatureConfig describes one measured configuration in the results.
type FeatureConfig struct {
	Name  string     `json:"name"`
	About string     `json:"about"`
	Set   featureSet `json:"set"`
}

// signer signs requests for vpc-lattice-svcs with an instance's root
// credentials.
type signer struct {
	creds  aws.Credentials
	region string
}

// sign returns the SigV4 headers (Authorization, X-Amz-Date,
// X-Amz-Content-Sha256, and X-Amz-Security-Token when there is one) of a
// GET / with the given Host, signed now.
func (s *signer) sign(host string) (http.Header, error) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/", nil)
	req.Host = host
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	if err := v4.NewSigner().SignHTTP(context.Background(), s.creds, req, "UNSIGNED-PAYLOAD", "vpc-lattice-svcs", s.region, time.Now()); err != nil {
		return nil, err
	}
	h := http.Header{}
	for _, k := range []string{"Authorization", "X-Amz-Date", "X-Amz-Content-Sha256", "X-Amz-Security-Token"} {
		if v := req.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	return h, nil
}

func readCreds(dataDir string) (aws.Credentials, string, error) {
	var c struct {
		AccessKeyID     string `json:"accessKeyId"`
		SecretAccessKey string `json:"secretAccessKey"`
		SessionToken    string `json:"sessionToken"`
		Account         string `json:"account"`
	}
	b, err := os.ReadFile(filepath.Join(dataDir, "credentials.json"))
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err == nil && (c.AccessKeyID == "" || c.SecretAccessKey == "") {
		err = errors.New("no accessKeyId/secretAccessKey")
	}
	if err != nil {
		return aws.Credentials{}, "", fmt.Errorf("credentials.json: %w", err)
	}
	if c.Account == "" {
		c.Account = "000000000000"
	}
	return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}, c.Account, nil
}

// launchTrellis starts `trellis serve` (process name procName) with a fresh
// data directory and configures it through the trellis CLI: one service
// network, the measured service with an HTTP listener forwarding to an IP
// target group holding the backend, the associations, plus whatever f adds.
// It returns the target (Host = the measured service's DNS name) and, when
// auth is on, a signer.
// trellisExtraFlags are added to every `trellis serve` (-trellis-flags).
var trellisExtraFlags []string

func launchTrellis(e *env, procName, ingressCIDR string, f featureSet) (*Target, *signer, string, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, nil, "", err
	}
	apiPort, lport := ports[0], ports[1]
	slug := strings.NewReplacer(" ", "-", "/", "-").Replace(procName)
	data := filepath.Join(e.dir, slug+"-data")
	api := "127.0.0.1:" + strconv.Itoa(apiPort)
	bin := filepath.Join(e.bin, "trellis")
	args := []string{"serve", "--data-dir", data, "--api-addr", api, "--ingress-cidr", ingressCIDR, "--log-level", "warn"}
	if f.StdServer {
		args = append(args, "--ingress-server", "net-http")
	}
	var metricsAddr string
	if f.Metrics {
		mp, err := freePort()
		if err != nil {
			return nil, nil, "", err
		}
		metricsAddr = "127.0.0.1:" + strconv.Itoa(mp)
		args = append(args, "--metrics-addr", metricsAddr)
	}
	var sink *otlpSink
	if f.Tracing {
		if sink, err = startOTLPSink(); err != nil {
			return nil, nil, "", err
		}
		args = append(args, "--otlp-endpoint", "http://"+sink.addr+"/v1/traces", "--trace-sample", "1")
	}
	args = append(args, trellisExtraFlags...)
	penv := []string{"GOMAXPROCS=1"}
	var pprofAddr string
	if e.pprof {
		pp, err := freePort()
		if err != nil {
			return nil, nil, "", err
		}
		pprofAddr = "127.0.0.1:" + strconv.Itoa(pp)
		penv = append(penv, "TRELLIS_BENCH_PPROF="+pprofAddr)
	}
	p, err := startProc(procName, e.cpuProxy, filepath.Join(e.dir, slug+".log"), penv, bin, args...)
	if err != nil {
		return nil, nil, "", err
	}
	if err := waitTCP(p, api, 20*time.Second); err != nil {
		return nil, nil, "", err
	}
	cliEnv := []string{"TRELLIS_ENDPOINT=http://" + api, "TRELLIS_DATA_DIR=" + data}
	cli := func(args ...string) (map[string]any, error) {
		out, err := runCmd(30*time.Second, cliEnv, bin, args...)
		if err != nil {
			return nil, fmt.Errorf("trellis CLI: %w", err)
		}
		var v map[string]any
		if strings.TrimSpace(out) != "" {
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				return nil, fmt.Errorf("trellis %s: answer is not JSON: %v: %q", strings.Join(args, " "), err, out)
			}
		}
		return v, nil
	}
	var sg *signer
	var account string
	if f.Auth || f.Lambda != nil {
		creds, acct, err := readCreds(data)
		if err != nil {
			return nil, nil, "", err
		}
		sg, account = &signer{creds: creds, region: "us-east-1"}, acct
		if r := os.Getenv("TRELLIS_REGION"); r != "" {
			sg.region = r
		}
	}
	_, backendPort, _ := strings.Cut(e.backend, ":")
	lp := strconv.Itoa(lport)
	authArgs := func() []string {
		if f.Auth {
			return []string{"--auth-type", "AWS_IAM"}
		}
		return nil
	}
	forward := "bench-tg=100"
	if f.Split {
		forward = "bench-tg=90,bench-tg2=10"
	}
	steps := [][]string{
		append([]string{"service-network", "create", "--name", "bench-net"}, authArgs()...),
		append([]string{"service", "create", "--name", "bench-svc"}, authArgs()...),
		{"target-group", "create", "--name", "bench-tg", "--type", "IP", "--protocol", "HTTP", "--port", backendPort, "--vpc", trellisVPC},
		{"target-group", "register-targets", "--target-group", "bench-tg", "--target", e.backend},
	}
	if f.Lambda != nil {
		fnARN, err := f.Lambda.create(api, sg)
		if err != nil {
			return nil, nil, "", err
		}
		steps[2] = []string{"target-group", "create", "--name", "bench-tg", "--type", "LAMBDA", "--lambda-event-structure-version", "V2"}
		steps[3] = []string{"target-group", "register-targets", "--target-group", "bench-tg", "--target", fnARN}
	}
	if f.Split {
		steps = append(steps,
			[]string{"target-group", "create", "--name", "bench-tg2", "--type", "IP", "--protocol", "HTTP", "--port", backendPort, "--vpc", trellisVPC},
			[]string{"target-group", "register-targets", "--target-group", "bench-tg2", "--target", e.backend})
	}
	steps = append(steps, []string{"listener", "create", "--service", "bench-svc", "--name", "web", "--protocol", "HTTP", "--port", lp, "--default-forward", forward})
	for i := 1; i <= f.Rules; i++ {
		r := []string{"rule", "create", "--service", "bench-svc", "--listener", "web", "--name", fmt.Sprintf("nomatch-%d", i),
			"--priority", strconv.Itoa(i), "--forward", "bench-tg=100"}
		if i%2 == 1 {
			r = append(r, "--path-prefix", fmt.Sprintf("/bench-no-match-%d", i))
		} else {
			r = append(r, "--header", fmt.Sprintf("x-bench-rule-%d=exact:never", i))
		}
		steps = append(steps, r)
	}
	if f.Auth {
		doc, _ := json.Marshal(map[string]any{
			"Version": "2012-10-17",
			"Statement": []any{map[string]any{
				"Effect":    "Allow",
				"Principal": map[string]any{"AWS": "arn:aws:iam::" + account + ":root"},
				"Action":    "vpc-lattice-svcs:Invoke",
				"Resource":  "*",
				"Condition": map[string]any{"StringEquals": map[string]any{"vpc-lattice-svcs:RequestMethod": "GET"}},
			}},
		})
		steps = append(steps,
			[]string{"auth-policy", "put", "--resource", "bench-net", "--policy", string(doc)},
			[]string{"auth-policy", "put", "--resource", "bench-svc", "--policy", string(doc)})
	}
	if f.AccessLogs {
		steps = append(steps,
			[]string{"access-log-subscription", "create", "--resource", "bench-svc", "--destination-arn", "arn:aws:logs:us-east-1:000000000000:log-group:bench"},
			[]string{"access-log-subscription", "create", "--resource", "bench-net", "--destination-arn", "arn:aws:s3:::bench-logs"})
	}
	steps = append(steps,
		[]string{"service-network-service-association", "create", "--service-network", "bench-net", "--service", "bench-svc"},
		[]string{"service-network-vpc-association", "create", "--service-network", "bench-net", "--vpc", trellisVPC})
	for _, s := range steps {
		if _, err := cli(s...); err != nil {
			return nil, nil, "", err
		}
	}
	// The extra services, a few CLI processes at a time.
	if f.ExtraServices > 0 {
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			first error
			next  = make(chan int)
		)
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					svc, tg := fmt.Sprintf("extra-svc-%03d", i), fmt.Sprintf("extra-tg-%03d", i)
					for _, s := range [][]string{
						{"service", "create", "--name", svc},
						{"target-group", "create", "--name", tg, "--type", "IP", "--protocol", "HTTP", "--port", backendPort, "--vpc", trellisVPC},
						{"target-group", "register-targets", "--target-group", tg, "--target", e.backend},
						{"listener", "create", "--service", svc, "--name", "web", "--protocol", "HTTP", "--port", lp, "--default-forward", tg + "=100"},
						{"service-network-service-association", "create", "--service-network", "bench-net", "--service", svc},
					} {
						if _, err := cli(s...); err != nil {
							mu.Lock()
							if first == nil {
								first = err
							}
							mu.Unlock()
							break
						}
					}
				}
			}()
		}
		for i := 1; i <= f.ExtraServices; i++ {
			mu.Lock()
			failed := first != nil
			mu.Unlock()
			if failed {
				break
			}
			next <- i
		}
		close(next)
		wg.Wait()
		if first != nil {
			return nil, nil, "", first
		}
	}
	vpc, err := cli("vpc", "get", trellisVPC)
	if err != nil {
		return nil, nil, "", err
	}
	ingress, _ := vpc["ingressAddress"].(string)
	if ingress == "" {
		return nil, nil, "", fmt.Errorf("trellis vpc get %s: no ingressAddress in %v", trellisVPC, vpc)
	}
	svc, err := cli("service", "get", "bench-svc")
	if err != nil {
		return nil, nil, "", err
	}
	dns, _ := svc["dnsEntry"].(map[string]any)
	host, _ := dns["domainName"].(string)
	if host == "" {
		return nil, nil, "", fmt.Errorf("trellis service get bench-svc: no dnsEntry.domainName in %v", svc)
	}
	var extraHost string
	if f.ExtraServices > 0 {
		x, err := cli("service", "get", "extra-svc-001")
		if err != nil {
			return nil, nil, "", err
		}
		d, _ := x["dnsEntry"].(map[string]any)
		extraHost, _ = d["domainName"].(string)
	}
	addr := ingress + ":" + lp
	if err := waitTCP(p, addr, 10*time.Second); err != nil {
		return nil, nil, "", fmt.Errorf("trellis ingress: %w", err)
	}
	t := &Target{Name: procName, Addr: addr, H2CAddr: addr, Host: host, StrictHost: true, api: api, dataDir: data, pprofAddr: pprofAddr, metricsAddr: metricsAddr, traces: sink,
		H2CNote: "the ingress serves HTTP/1.1 and h2c on the same socket",
		Setup:   "service network, service, HTTP listener, IP target group (health checks on), VPC association; GOMAXPROCS=1"}
	if f.AccessLogs {
		t.AccessLogGlob = filepath.Join(data, "accesslogs", "cloudwatch", "*", "*", "bench", "*.log")
	}
	return t, sg, extraHost, nil
}

// counted checks that Trellis's /metrics at addr counts 2xx requests.
func counted(addr string) error {
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return fmt.Errorf("scrape /metrics: %w", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<22))
	if err != nil {
		return fmt.Errorf("scrape /metrics: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "trellis_requests_total{") && strings.Contains(line, `code_class="2xx"`) {
			return nil
		}
	}
	return errors.New("/metrics has no trellis_requests_total series of class 2xx")
}

// otlpSink is an OTLP/HTTP traces endpoint for the "tracing on" variant:
// it reads every export and discards it (answering an empty
// ExportTraceServiceResponse, which is an empty protobuf message), so that
// what is measured is Trellis's cost of tracing, not a collector's. It
// runs in the harness process for the whole run.
type otlpSink struct {
	addr  string
	posts atomic.Int64
}

func startOTLPSink() (*otlpSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("OTLP sink: %w", err)
	}
	s := &otlpSink{addr: ln.Addr().String()}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if n, _ := io.Copy(io.Discard, io.LimitReader(r.Body, 64<<20)); n > 0 {
			s.posts.Add(1)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	})}
	go func() { _ = srv.Serve(ln) }()
	return s, nil
}

// received is how many non-empty exports the sink has read.
func (s *otlpSink) received() int64 { return s.posts.Load() }

// accessLogged checks that a file matching glob holds an access log
// record (a JSON line) of a request with the given Host.
func accessLogged(glob, host string) error {
	files, _ := filepath.Glob(glob)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["hostHeader"] == host && rec["responseCode"] == float64(200) {
				return nil
			}
		}
	}
	return fmt.Errorf("no access log record of a 200 for Host %s in %s (files: %v)", host, glob, files)
}

// getH1 sends one HTTP/1.1 GET / to addr with the given Host and headers.
func getH1(addr, host string, hdr http.Header) (int, string, error) {
	tr := &http.Transport{DisableKeepAlives: true, DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	req.Host = host
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	return res.StatusCode, string(b), err
}

// verifyFeature checks a features-phase instance before it is measured: the
// measured service's Host gets the backend's body (signed where auth is
// on), an unknown Host gets 404, and where auth is on an unsigned request
// gets 403. With extra services, one of them must answer for its own Host
// too. It retries for a while: configuration may still be propagating.
func verifyFeature(t *Target, sg *signer, extraHost string) error {
	headers := func(host string) (http.Header, error) {
		if sg == nil {
			return nil, nil
		}
		return sg.sign(host)
	}
	check := func() error {
		for _, host := range []string{t.Host, extraHost} {
			if host == "" {
				continue
			}
			h, err := headers(host)
			if err != nil {
				return err
			}
			st, body, err := getH1(t.Addr, host, h)
			if err != nil {
				return fmt.Errorf("GET with Host %s: %v", host, err)
			}
			if st != 200 || body != backendBody {
				return fmt.Errorf("GET with Host %s (signed: %v): status %d, body %q; want 200 and the backend's body", host, sg != nil, st, clip(body))
			}
		}
		h, err := headers("not-a-service.invalid")
		if err != nil {
			return err
		}
		if st, body, err := getH1(t.Addr, "not-a-service.invalid", h); err != nil || st != 404 {
			return fmt.Errorf("GET with an unknown Host: status %d, body %q, %v; want 404", st, clip(body), err)
		}
		if sg != nil {
			if st, body, err := getH1(t.Addr, t.Host, nil); err != nil || st != 403 {
				return fmt.Errorf("unsigned GET with Host %s: status %d, body %q, %v; want 403", t.Host, st, clip(body), err)
			}
		}
		return nil
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := check()
		if err == nil && t.AccessLogGlob != "" {
			err = accessLogged(t.AccessLogGlob, t.Host)
		}
		if err == nil && t.metricsAddr != "" {
			err = counted(t.metricsAddr)
		}
		if err == nil && t.traces != nil && t.traces.received() == 0 {
			err = errors.New("the OTLP sink has received no spans yet")
		}
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not proxy as configured: %w", t.Name, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// runFeatures is the features phase: one Trellis instance per variant
// (own data dir, ingress CIDR and API port), configured once and verified,
// then a warm-up each and o.rounds rounds interleaving plain and the
// variants, wrk with the capacity phase's settings and pinning. A signed
// variant gets a fresh signature right before every wrk run.
// selectFeatureVariants keeps only the named variants (-feature-variants),
// so that a comparison of a few can have the machine for longer rounds.
func selectFeatureVariants(names []string) error {
	var kept []featureVariant
	for _, n := range names {
		n = strings.TrimSpace(n)
		i := slices.IndexFunc(featureVariants, func(v featureVariant) bool { return v.Name == n })
		if i < 0 {
			return fmt.Errorf("-feature-variants: no variant %q", n)
		}
		kept = append(kept, featureVariants[i])
	}
	featureVariants = kept
	return nil
}

func runFeatures(e *env, o *options, res *Results, plain *Target, fail func(string, ...any), gap, alive func()) {
	type entry struct {
		t  *Target
		sg *signer
	}
	entries := []entry{{t: &Target{Name: plainName, Addr: plain.Addr, Host: plain.Host}}}
	res.FeatureConfigs = append(res.FeatureConfigs, FeatureConfig{Name: plainName, About: "the capacity phase's trellis target: one service, one listener, one target group, auth NONE"})
	for _, v := range featureVariants {
		logf("features: starting and configuring trellis %q", v.Name)
		start := time.Now()
		t, sg, extraHost, err := launchTrellis(e, "trellis "+v.Name, v.CIDR, v.Set)
		if err == nil {
			err = verifyFeature(t, sg, extraHost)
		}
		if err != nil {
			fail("features %s: %v", v.Name, err)
			forget("trellis " + v.Name)
			continue
		}
		t.Name = v.Name
		logf("features: %s configured and verified in %s (%s, Host %s)", v.Name, time.Since(start).Round(100*time.Millisecond), t.Addr, t.Host)
		entries = append(entries, entry{t: t, sg: sg})
		res.FeatureConfigs = append(res.FeatureConfigs, FeatureConfig{Name: v.Name, About: v.About, Set: v.Set})
	}
	measure := func(x entry, d time.Duration) CapRun {
		var hdr http.Header
		if x.sg != nil {
			h, err := x.sg.sign(x.t.Host)
			if err != nil {
				return CapRun{Target: x.t.Name, Err: "signing: " + err.Error()}
			}
			hdr = h
		}
		return runWrkH(o.cpuLoad, x.t, d, hdr)
	}
	logf("features: warm-up %s per configuration", o.warmup)
	for _, x := range entries {
		if r := measure(x, o.warmup); r.broken() {
			fail("features %s warm-up: %s", x.t.Name, describe(r))
		}
		gap()
	}
	for round := 1; round <= o.rounds; round++ {
		// Each round starts one configuration later, so that no configuration
		// is always the first after a pause or the one after a given other.
		for i := range entries {
			x := entries[(i+round-1)%len(entries)]
			r := measure(x, o.capDur)
			r.Round = round
			logf("features round %d/%d %-14s %10.0f req/s  errors %d non-2xx %d %s", round, o.rounds, x.t.Name, r.ReqPerSec, r.Errors, r.Non2xx, r.Err)
			if r.broken() {
				fail("features %s round %d: %s", x.t.Name, round, describe(r))
			}
			res.Features = append(res.Features, FeatureRun{Config: x.t.Name, CapRun: r})
			gap()
		}
		alive()
	}
	// The variants have done their job: stop them, so that nothing but the
	// measured proxy keeps CPU 0 busy (health checks) in the latency phase.
	for _, v := range featureVariants {
		forget("trellis " + v.Name)
	}
}
