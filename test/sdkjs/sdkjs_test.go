// Package sdkjs proves every VPC Lattice operation round-trips with the AWS
// SDK for JavaScript v3: it starts a real `trellis serve` and runs
// roundtrip.mjs against it with node (docs/compatibility.md). The Go SDK's
// counterpart is internal/api's TestEveryLatticeOperationRoundTrips; both
// check their coverage against apitest.LatticeOperations.
package sdkjs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/trellis-net/trellis/internal/api/apitest"
)

const (
	accessKey = "AKIASDKJSTEST0000001"
	secretKey = "sdkjs-secret-key"
	region    = "us-east-1"
	vpcID     = "vpc-0000000000000a5a1"
	sgID      = "sg-0000000000000a5a1"
)

// required: CI sets TRELLIS_SDKJS_E2E=required, so a missing node or
// node_modules fails there instead of skipping.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("TRELLIS_SDKJS_E2E") == "required" {
		t.Fatalf("%s (TRELLIS_SDKJS_E2E=required)", msg)
	}
	t.Skip(msg + " (run `npm ci --prefix test/sdkjs`; TRELLIS_SDKJS_E2E=required makes this a failure)")
}

func TestEveryLatticeOperationRoundTripsWithJavaScriptSDK(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "node is not installed")
	}
	// The pinned SDK declares node >= 20 (its package.json engines).
	if v, err := exec.Command(node, "-p", "process.versions.node").Output(); err != nil {
		skipOrFail(t, "node -p process.versions.node: %v", err)
	} else if major, _, _ := strings.Cut(strings.TrimSpace(string(v)), "."); atoi(major) < 20 {
		skipOrFail(t, "node %s is older than 20, which @aws-sdk/client-vpc-lattice needs", strings.TrimSpace(string(v)))
	}
	if _, err := os.Stat(filepath.Join("node_modules", "@aws-sdk", "client-vpc-lattice", "package.json")); err != nil {
		skipOrFail(t, "test/sdkjs/node_modules has no @aws-sdk/client-vpc-lattice")
	}

	bin := filepath.Join(t.TempDir(), "trellis")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/trellis").CombinedOutput(); err != nil {
		t.Fatalf("build trellis: %v\n%s", err, out)
	}
	addr := serve(t, bin)
	endpoint := "http://" + addr

	// The VPC and security group the associations and the resource
	// gateway name: Trellis-native resources, not Lattice operations.
	put(t, endpoint, "/trellis/v1/vpcs/"+vpcID, map[string]any{"mode": "host"})
	put(t, endpoint, "/trellis/v1/security-groups/"+sgID, map[string]any{"vpcId": vpcID,
		"ingress": []map[string]any{{"protocol": "tcp", "fromPort": 80, "toPort": 80, "cidr": "10.0.0.0/8"}}})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "roundtrip.mjs")
	// Only what the script needs: no AWS profile or proxy of the machine
	// may change where the SDK sends its requests.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"TRELLIS_ENDPOINT=" + endpoint, "AWS_REGION=" + region,
		"AWS_ACCESS_KEY_ID=" + accessKey, "AWS_SECRET_ACCESS_KEY=" + secretKey,
		"TRELLIS_VPC_ID=" + vpcID, "TRELLIS_SG_ID=" + sgID}
	out, err := cmd.CombinedOutput()
	t.Logf("node roundtrip.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("node roundtrip.mjs: %v", err)
	}

	done, sdkCount := parseOutput(t, out)
	want := apitest.LatticeOperations()
	if len(want) != apitest.LatticeOperationCount {
		t.Errorf("the Go SDK has %d operations, the model %d", len(want), apitest.LatticeOperationCount)
	}
	if sdkCount != len(want) {
		t.Errorf("the JavaScript SDK has %d operations, the Go SDK %d", sdkCount, len(want))
	}
	if !slices.Equal(done, want) {
		t.Errorf("the script round-tripped %d operations, the Go SDK has %d:\n only the script: %v\n only Go: %v",
			len(done), len(want), minus(done, want), minus(want, done))
	}
}

// parseOutput answers, sorted, the operations the script reported ok
// (lines "ok OP STATUS ...") and the count of the SDK's commands it
// printed. The script held each answer to the status in the JavaScript
// SDK's model; this holds that to apitest's table, which the Go test
// holds the server to.
func parseOutput(t *testing.T, out []byte) (ops []string, sdkCount int) {
	t.Helper()
	sdkCount = -1
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 3 && f[0] == "ok":
			ops = append(ops, f[1])
			if f[2] != "-" && atoi(f[2]) != apitest.LatticeSuccessStatus(f[1]) {
				t.Errorf("%s answered %s (the JavaScript SDK's model), apitest says %d", f[1], f[2], apitest.LatticeSuccessStatus(f[1]))
			}
		case len(f) == 2 && f[0] == "sdk-operations":
			if _, err := fmt.Sscan(f[1], &sdkCount); err != nil {
				t.Fatalf("sdk-operations %q", f[1])
			}
		}
	}
	if sdkCount < 0 {
		t.Fatal("the script printed no sdk-operations line")
	}
	slices.Sort(ops)
	return ops, sdkCount
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// serve starts `trellis serve` on a free loopback port with known root
// credentials and waits until its API answers.
func serve(t *testing.T, bin string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve", "--data-dir", t.TempDir(), "--api-addr", addr)
	cmd.Env = append(os.Environ(), "TRELLIS_ROOT_ACCESS_KEY_ID="+accessKey, "TRELLIS_ROOT_SECRET_ACCESS_KEY="+secretKey,
		"TRELLIS_REGION="+region)
	// The server dies with the test binary, even when that is killed and
	// runs no cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var logs syncWriter
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("trellis serve log:\n%s", logs.String())
		}
	})
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("trellis serve exited:\n%s", logs.String())
		default:
		}
		if resp, err := http.Get("http://" + addr + "/trellis/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
	}
	t.Fatalf("trellis serve did not answer on %s:\n%s", addr, logs.String())
	return ""
}

// put sends a SigV4-signed PUT with the root credentials to a native
// endpoint and fails unless it answers 2xx.
func put(t *testing.T, endpoint, path string, body any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPut, endpoint+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(b)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey},
		req, hex.EncodeToString(sum[:]), "vpc-lattice", region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("PUT %s: %d %s", path, resp.StatusCode, out)
	}
}

// syncWriter collects the server's output while the test reads it.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
