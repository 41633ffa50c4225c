package health

import (
	"net"
	"net/netip"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/trellis-net/trellis/internal/model"
)

// TestHTTP2CheckNeedsAnHTTP2Target pins that a check of protocol version
// HTTP2 speaks HTTP/2 only: a target that speaks only HTTP/1.1 fails it,
// in the clear (h2c prior knowledge meets an HTTP/1.1 parser) and over TLS
// (the target's ALPN offers no h2), and the cause says why.
func TestHTTP2CheckNeedsAnHTTP2Target(t *testing.T) {
	for _, tc := range []struct {
		name     string
		kind     backendKind
		protocol string
		version  string
		want     string
	}{
		{"h2c check, HTTP/1.1 target", plainHTTP, model.ProtocolHTTP, model.ProtocolVersionHTTP2, "UNHEALTHY"},
		{"h2 check, TLS HTTP/1.1 target", tlsHTTP1, model.ProtocolHTTPS, model.ProtocolVersionHTTP2, "UNHEALTHY"},
		// The control cases: the same targets pass an HTTP1 check.
		{"HTTP/1.1 check, HTTP/1.1 target", plainHTTP, model.ProtocolHTTP, model.ProtocolVersionHTTP1, "HEALTHY"},
		{"HTTPS/1.1 check, TLS HTTP/1.1 target", tlsHTTP1, model.ProtocolHTTPS, model.ProtocolVersionHTTP1, "HEALTHY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			b := newBackend(t, tc.kind)
			tgt := ipTarget("tg-1", b.addr)
			h.publish(snap(1, ipGroup("tg-1", healthCheck(func(hc *model.HealthCheckConfig) {
				hc.Protocol = tc.protocol
				hc.ProtocolVersion = tc.version
			}), tgt)))
			h.waitStatus("tg-1", tgt, tc.want)
			for _, r := range b.requests() {
				// net/http's HTTP/1.1 server hands the h2c preface
				// ("PRI * HTTP/2.0") to its handler as a request; no
				// probe may arrive as an HTTP/1.1 GET.
				if r.method == "GET" && (r.protoMajor != 1 || tc.version == model.ProtocolVersionHTTP2) {
					t.Fatalf("the HTTP/1.1 target saw %+v", r)
				}
			}
		})
	}
}

// TestGRPCTargetGroupChecks probes a real grpc-go server, the target of a
// GRPC target group, which takes HTTP/2 only and answers every request
// that is not gRPC with HTTP 415 (its transport does, before any handler).
// Lattice has no gRPC check (reference §6: GRPC groups use an HTTP1 or
// HTTP2 check, matcher httpCode): such a target passes an HTTP2 check whose
// matcher accepts that status, fails one that wants 200, and fails every
// HTTP1 check (it does not speak HTTP/1.1).
func TestGRPCTargetGroupChecks(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	addr := netip.MustParseAddrPort(lis.Addr().String())

	for _, tc := range []struct {
		name    string
		version string
		matcher string
		want    string
		cause   string
	}{
		{"HTTP2 check, matcher 200-499", model.ProtocolVersionHTTP2, "200-499", "HEALTHY", ""},
		{"HTTP2 check, matcher 415", model.ProtocolVersionHTTP2, "415", "HEALTHY", ""},
		{"HTTP2 check, matcher 200", model.ProtocolVersionHTTP2, "200", "UNHEALTHY", "status 415 not in 200"},
		{"HTTP1 check", model.ProtocolVersionHTTP1, "200-499", "UNHEALTHY", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil)
			tgt := ipTarget("tg-grpc", addr)
			g := ipGroup("tg-grpc", healthCheck(func(hc *model.HealthCheckConfig) {
				hc.ProtocolVersion = tc.version
				hc.Path = "/grpc.health.v1.Health/Check"
				hc.Matcher = &model.Matcher{HTTPCode: &tc.matcher}
			}), tgt)
			g.ProtocolVersion = model.ProtocolVersionGRPC
			h.publish(snap(1, g))
			h.waitStatus("tg-grpc", tgt, tc.want)
			if tc.cause != "" {
				h.waitLog(tc.cause)
			}
		})
	}
}
