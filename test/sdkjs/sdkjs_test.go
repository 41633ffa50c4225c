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
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/api/apitest"
	"github.com/trellis-net/trellis/test/serveproc"
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

func TestMain(m *testing.M) { os.Exit(serveproc.Main(m)) }

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

	srv := serveproc.Start(t, serveproc.Options{Env: []string{"TRELLIS_ROOT_ACCESS_KEY_ID=" + accessKey,
		"TRELLIS_ROOT_SECRET_ACCESS_KEY=" + secretKey, "TRELLIS_REGION=" + region}})
	endpoint := srv.URL

	// The VPC and security group the associations and the resource
	// gateway name: Trellis-native resources, not Lattice operations.
	put(t, endpoint, "vpcs/"+vpcID, map[string]any{"mode": "host"})
	put(t, endpoint, "security-groups/"+sgID, map[string]any{"vpcId": vpcID,
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

// put sends a SigV4-signed PUT with the root credentials to a native
// endpoint (a path below /trellis/v1/) and fails unless it answers 2xx.
func put(t *testing.T, endpoint, path string, body any) {
	t.Helper()
	st, out, err := serveproc.Call(context.Background(), endpoint, accessKey, secretKey, http.MethodPut, path, body)
	if err != nil {
		t.Fatal(err)
	}
	if st/100 != 2 {
		t.Fatalf("PUT %s: %d %s", path, st, out)
	}
}
