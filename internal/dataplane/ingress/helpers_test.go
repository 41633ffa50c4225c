package ingress

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/snapshot"
)

const account = "111122223333"

// ingressSeq hands every test its own VPC ingress address, so tests never
// compete for a socket (package proxy's tests use 127.171.240.0 and up,
// other packages the bottom of 127.171.0.0/16).
var ingressSeq atomic.Uint32

func nextIngress() netip.Addr {
	n := ingressSeq.Add(1)
	return netip.AddrFrom4([4]byte{127, 171, byte(220 + n/250), byte(1 + n%250)})
}

// freePort returns a TCP port that is free on ip right now.
func freePort(t testing.TB, ip netip.Addr) int {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// env is an ingress whose every socket answers "b", counting the requests.
type env struct {
	t      testing.TB
	holder *snapshot.Holder
	in     *Ingress
	hits   atomic.Int64
}

func newEnv(t testing.TB, configure func(*Config)) *env {
	t.Helper()
	e := &env{t: t, holder: new(snapshot.Holder)}
	cfg := Config{Holder: e.holder, Logger: testLogger(t), Handler: func(string, int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			e.hits.Add(1)
			w.Header().Set("Content-Length", "1")
			_, _ = w.Write([]byte("b"))
		})
	}}
	if configure != nil {
		configure(&cfg)
	}
	e.in = New(cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.in.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// publish stores s and syncs the sockets.
func (e *env) publish(s *snapshot.Snapshot) {
	e.t.Helper()
	e.holder.Store(s)
	if err := e.in.Sync(context.Background()); err != nil {
		e.t.Fatalf("Sync: %v", err)
	}
}

// vpcAt is a host-mode VPC with its ingress on ip:port.
func vpcAt(id string, ip netip.Addr, port int) *snapshot.VPC {
	return &snapshot.VPC{ID: id, Mode: "host", Ingress: ip, Ports: []int{port}}
}

func snapshotOf(vpcs ...*snapshot.VPC) *snapshot.Snapshot {
	s := &snapshot.Snapshot{VPCs: map[string]*snapshot.VPC{}, ByIngress: map[netip.Addr]*snapshot.VPC{}}
	for _, v := range vpcs {
		s.VPCs[v.ID] = v
		s.ByIngress[v.Ingress] = v
	}
	return s
}

// testLogger discards logs unless TRELLIS_TEST_LOG=1.
func testLogger(testing.TB) *slog.Logger {
	if os.Getenv("TRELLIS_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}
