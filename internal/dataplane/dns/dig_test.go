package dns

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// dig runs Debian's dig against addr (host:port) and returns its output.
// CI installs dig (.ci/run); without it locally the test is skipped.
func dig(t *testing.T, addr string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("dig")
	if err != nil {
		t.Skip("dig is not installed (apt-get install dnsutils); CI installs it")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// +tries=1 +time=5: one attempt, so a wrong answer is not hidden by a retry.
	out, err := exec.CommandContext(ctx, path, append([]string{"@" + host, "-p", port, "+tries=1", "+time=5"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("dig %v: %v\n%s", args, err, out)
	}
	// One space between fields, whatever dig aligned them with.
	lines := strings.Split(string(out), "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

func TestDig(t *testing.T) {
	up := upstream(t)
	s, _, _ := start(t, world(false), []string{up})
	prod, dev := addrOf(t, s, "vpc-prod"), addrOf(t, s, "vpc-dev")
	for _, tc := range []struct {
		name string
		addr string
		args []string
		want []string
	}{
		{"custom domain, short", prod, []string{"+short", "Orders.Example.COM"}, []string{"127.0.0.1\n"}},
		{"generated name", prod, []string{ordersDN, "A"}, []string{"status: NOERROR", "flags: qr aa rd ra;", " 5 IN A 127.0.0.1"}},
		{"not reachable", dev, []string{"orders.example.com"}, []string{"status: NXDOMAIN", "flags: qr aa rd ra;", "IN SOA ns.trellis.invalid."}},
		{"NODATA", prod, []string{"orders.example.com", "AAAA"}, []string{"status: NOERROR", "ANSWER: 0", "AUTHORITY: 1"}},
		{"EDNS0 echoed", prod, []string{"+edns=0", "+bufsize=1400", "orders.example.com"}, []string{"; EDNS: version: 0, flags:; udp: 1232"}},
		{"forwarded", prod, []string{"up.example"}, []string{"status: NOERROR", " IN A 192.0.2.1"}},
		// +ignore shows the truncated UDP answer; plain dig retries over TCP.
		{"truncated over UDP", prod, []string{"+ignore", "+noedns", "many.example"}, []string{"flags: qr tc rd ra;"}},
		{"TCP retry gets all", prod, []string{"+noedns", "many.example"}, []string{"ANSWER: 100,", "192.0.2.100"}},
		{"TCP", prod, []string{"+tcp", "orders.example.com"}, []string{"status: NOERROR", " IN A 127.0.0.1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := dig(t, tc.addr, tc.args...)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("dig %v: want %q in\n%s", tc.args, w, out)
				}
			}
		})
	}
}
