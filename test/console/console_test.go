// Package console drives the web console end to end: a real `trellis
// serve`, a real HTTP target, and headless Chromium (Debian's chromium,
// driven by playwright-core from npm) clicking through the pages as a user
// would (e2e.mjs). See docs/console.md.
package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ram"
	ramtypes "github.com/aws/aws-sdk-go-v2/service/ram/types"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"

	"github.com/trellis-net/trellis/test/serveproc"
)

const (
	rootKey    = "AKIACONSOLEE2E000001"
	rootSecret = "console-e2e-root-secret"
	// otherAccount is a second tenant: it must see none of the root
	// account's resources in the console.
	otherAccount = "111122223333"
	chromium     = "/usr/bin/chromium"
	// bulkServices is how many services the paging and search check runs
	// against.
	bulkServices = 1000
)

// prerequisites returns why the browser test cannot run here, or "".
func prerequisites() string {
	if _, err := exec.LookPath("node"); err != nil {
		return "node is not installed"
	}
	if _, err := os.Stat("node_modules/playwright-core/package.json"); err != nil {
		return "test/console/node_modules is missing (npm ci --prefix test/console)"
	}
	if _, err := os.Stat(chromium); err != nil {
		return chromium + " is missing (apt-get install chromium)"
	}
	return ""
}

func TestMain(m *testing.M) { os.Exit(serveproc.Main(m)) }

func TestConsoleEndToEnd(t *testing.T) {
	if why := prerequisites(); why != "" {
		if os.Getenv("TRELLIS_CONSOLE_E2E") == "required" {
			t.Fatal("console end-to-end test required but cannot run: " + why)
		}
		t.Skip(why)
	}
	// The build is outside the test's time budget: on a busy machine with
	// a cold cache it takes what it takes.
	bin := serveproc.Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv := serveproc.Start(t, serveproc.Options{Binary: bin,
		// A range of its own, so that other tests' VPCs on this machine
		// do not collide with this one's; no DNS (not needed here).
		Flags: []string{"--ingress-cidr", "127.177.0.0/16", "--dns-port", "0", "--log-level", "warn"},
		Env:   []string{"TRELLIS_ROOT_ACCESS_KEY_ID=" + rootKey, "TRELLIS_ROOT_SECRET_ACCESS_KEY=" + rootSecret}})
	api := srv.URL

	// A real target: answers every request, health checks included.
	target := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello from the target\n")
	})}
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = target.Serve(tln) }()
	t.Cleanup(func() { _ = target.Close() })

	// A second account with an access key, made by the administrator.
	if _, err := signed(ctx, api, rootKey, rootSecret, "PUT", "accounts/"+otherAccount, map[string]any{"name": "other"}); err != nil {
		t.Fatal(err)
	}
	key, err := signed(ctx, api, rootKey, rootSecret, "POST", "accounts/"+otherAccount+"/accesskeys", nil)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _ := key["accessKeyId"].(string)
	otherSecret, _ := key["secretAccessKey"].(string)
	if otherKey == "" || otherSecret == "" {
		t.Fatalf("access key of %s: %v", otherAccount, key)
	}

	createBulk(ctx, t, api)

	// The driver: the script asks it to send requests through the data
	// plane (loopback only), as a client in the VPC would.
	drv := &driver{api: api}
	dln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dsrv := &http.Server{Handler: drv}
	go func() { _ = dsrv.Serve(dln) }()
	t.Cleanup(func() { _ = dsrv.Close() })

	artifacts := os.Getenv("TRELLIS_CONSOLE_ARTIFACTS")
	if artifacts == "" {
		artifacts, _ = filepath.Abs("artifacts")
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "node", "e2e.mjs")
	cmd.Env = append(os.Environ(),
		"CONSOLE_URL="+api+"/console/",
		"ACCESS_KEY_ID="+rootKey, "SECRET_ACCESS_KEY="+rootSecret,
		"OTHER_ACCESS_KEY_ID="+otherKey, "OTHER_SECRET_ACCESS_KEY="+otherSecret,
		"TARGET_ADDR="+tln.Addr().String(),
		"DRIVER_URL=http://"+dln.Addr().String(),
		"ARTIFACTS_DIR="+artifacts,
		"BULK_SERVICE=bulk-0777",
		"CHROMIUM="+chromium,
		"OTHER_ACCOUNT_ID="+otherAccount,
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Run()
	t.Logf("e2e.mjs:\n%s", out.String())
	if err != nil {
		t.Fatalf("e2e.mjs failed: %v (screenshots in %s)\nserver log:\n%s", err, artifacts, srv.Log.String())
	}
	if drv.sent() == 0 {
		t.Fatal("the script never asked for data-plane requests")
	}
	checkOutcome(ctx, t, api, out.String(), otherKey, otherSecret)
}

// checkOutcome checks through the API what the script did in the browser:
// simulating draft policies stored none of them (the live auth policy is
// the one saved), and the invitation the second account accepted made it a
// principal of the share.
func checkOutcome(ctx context.Context, t *testing.T, api, log, otherKey, otherSecret string) {
	t.Helper()
	var res struct{ ServiceID, NetworkARN string }
	_, line, ok := strings.Cut(log, "RESULT ")
	line, _, _ = strings.Cut(line, "\n")
	if !ok || json.Unmarshal([]byte(line), &res) != nil || res.ServiceID == "" || res.NetworkARN == "" {
		t.Fatalf("no RESULT line from e2e.mjs (%q)", line)
	}
	lattice := serveproc.Lattice(api, rootKey, rootSecret)
	p, err := lattice.GetAuthPolicy(ctx, &vpclattice.GetAuthPolicyInput{ResourceIdentifier: aws.String(res.ServiceID)})
	if err != nil {
		t.Fatal(err)
	}
	if live := aws.ToString(p.Policy); !strings.Contains(live, "role/reader") || strings.Contains(live, "OnlyWriters") {
		t.Fatalf("the live auth policy after the draft simulations: %s", live)
	}
	other := ram.New(ram.Options{Region: "us-east-1", BaseEndpoint: aws.String(api),
		Credentials: credentials.NewStaticCredentialsProvider(otherKey, otherSecret, "")})
	res2, err := other.ListResources(ctx, &ram.ListResourcesInput{ResourceOwner: ramtypes.ResourceOwnerOtherAccounts})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range res2.Resources {
		found = found || aws.ToString(r.Arn) == res.NetworkARN
	}
	if !found {
		t.Fatalf("%s does not see %s shared with it", otherAccount, res.NetworkARN)
	}
}

// createBulk creates bulkServices services through the API (in parallel:
// the console's paging and search run against them, not their creation).
func createBulk(ctx context.Context, t *testing.T, api string) {
	t.Helper()
	c := serveproc.Lattice(api, rootKey, rootSecret)
	names := make(chan string)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range names {
				if _, err := c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String(n)}); err != nil {
					errs <- fmt.Errorf("create %s: %w", n, err)
					return
				}
			}
		}()
	}
	start := time.Now()
	go func() {
		defer close(names)
		for i := 1; i <= bulkServices; i++ {
			select {
			case names <- fmt.Sprintf("bulk-%04d", i):
			case <-ctx.Done():
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	t.Logf("created %d services in %v", bulkServices, time.Since(start).Round(time.Millisecond))
}

// signed sends a SigV4-signed Trellis-native call, as the CLI does, and
// answers its JSON body; an answer of 300 or more is an error.
func signed(ctx context.Context, api, key, secret, method, path string, body any) (map[string]any, error) {
	st, b, err := serveproc.Call(ctx, api, key, secret, method, path, body)
	if err != nil {
		return nil, err
	}
	if st >= 300 {
		return nil, fmt.Errorf("%s %s: %d %s %s", method, path, st, http.StatusText(st), b)
	}
	var v map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// driver sends requests through the data plane when e2e.mjs asks:
// POST /send?vpc=VPC_ID&host=DNS_NAME&port=P&path=/x&n=N sends N GETs to
// the VPC's ingress address (looked up through the API) naming host, and
// answers how many got each status.
type driver struct {
	api   string
	mu    sync.Mutex
	total int
}

func (d *driver) sent() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.total
}

func (d *driver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, _ := strconv.Atoi(q.Get("n"))
	port, _ := strconv.Atoi(q.Get("port"))
	host, vpc, path := q.Get("host"), q.Get("vpc"), q.Get("path")
	if r.Method != http.MethodPost || n < 1 || n > 500 || port < 1 || host == "" || vpc == "" || !strings.HasPrefix(path, "/") {
		http.Error(w, "want POST /send?vpc=&host=&port=&path=/...&n=1..500", http.StatusBadRequest)
		return
	}
	v, err := signed(r.Context(), d.api, rootKey, rootSecret, "GET", "vpcs/"+vpc, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	ingress, _ := v["ingressAddress"].(string)
	if ip := net.ParseIP(ingress); ip == nil || !ip.IsLoopback() {
		// Loopback only: this test sends nothing anywhere else.
		http.Error(w, "VPC ingress "+ingress+" is not a loopback address", http.StatusBadGateway)
		return
	}
	codes := map[string]int{}
	client := &http.Client{Timeout: 5 * time.Second}
	for range n {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, "http://"+net.JoinHostPort(ingress, strconv.Itoa(port))+path, nil)
		req.Host = host
		req.Header.Set("User-Agent", "console-e2e/1.0")
		resp, err := client.Do(req)
		if err != nil {
			codes["error"]++
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		codes[strconv.Itoa(resp.StatusCode)]++
	}
	d.mu.Lock()
	d.total += n
	d.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(codes)
}
