package app_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// curl runs curl with args plus a write-out of "<http_version> <code>"
// after the body, and returns the body and that line. --resolve pins the
// names to the ingress, so curl dials loopback only.
func curl(t *testing.T, args ...string) (body, info string) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	args = append([]string{"-sS", "--max-time", "10", "--retry", "20", "--retry-connrefused", "--retry-delay", "0",
		"-w", "\n%{http_version} %{http_code}"}, args...)
	out, err := exec.CommandContext(cctx, "curl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	s := string(out)
	i := strings.LastIndexByte(s, '\n')
	return s[:i], s[i+1:]
}

// TestCurlHTTP2 drives the listeners with curl (nghttp2): HTTP/2 over TLS
// (ALPN) to an HTTPS listener, verified against the installation CA, and
// HTTP/2 with prior knowledge (h2c) to an HTTP listener.
func TestCurlHTTP2(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	const httpsPort, httpPort = 18446, 18447
	w := newWorld(t, apptest.Options{})
	b := newBackend(t, "orders")
	tg := w.targetGroup("orders", nil, b)
	w.httpsListener(w.svc.Id, httpsPort, tg.Id)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("plain"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(httpPort), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	host := *w.svc.DnsEntry.DomainName
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, []byte(getCA(t, w.s)), 0o600); err != nil {
		t.Fatal(err)
	}
	// Both sockets open with the configuration.
	get(t, ingress, httpPort, host, "/", nil)
	waitTLS(t, ingress, httpsPort, &tls.Config{RootCAs: caPool(t, w.s), ServerName: host}).Close()

	for _, tc := range []struct {
		name  string
		port  int
		args  []string
		proto string // what the target sees in X-Forwarded-Proto
	}{
		{"--http2 to the HTTPS listener", httpsPort, []string{"--http2", "--cacert", caFile}, "https"},
		{"--http2-prior-knowledge to the HTTP listener", httpPort, []string{"--http2-prior-knowledge"}, "http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scheme := map[int]string{httpsPort: "https", httpPort: "http"}[tc.port]
			args := append(tc.args, "--resolve", fmt.Sprintf("%s:%d:%s", host, tc.port, ingress),
				fmt.Sprintf("%s://%s:%d/curl", scheme, host, tc.port))
			body, info := curl(t, args...)
			if body != "orders" || info != "2 200" {
				t.Fatalf("body %q, version and status %q; want orders, \"2 200\"", body, info)
			}
			b.mu.Lock()
			xfp := b.last.Get("X-Forwarded-Proto")
			b.mu.Unlock()
			if xfp != tc.proto {
				t.Fatalf("x-forwarded-proto %q, want %q", xfp, tc.proto)
			}
		})
	}
}
