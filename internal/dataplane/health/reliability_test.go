package health

import (
	"bufio"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// A refused connection marks a target down (the proxy's passive
// detection). Checks that fail below the unhealthy threshold leave the
// target HEALTHY, but must keep it out of rotation until one passes
// (issue 10: a failed check cleared the mark-down, and POSTs hit the dead
// target again).
func TestFailedCheckKeepsPassiveMarkDown(t *testing.T) {
	h := newHarness(t, nil)
	b := newBackend(t, plainHTTP)
	tgt := ipTarget("tg-1", b.addr)
	h.publish(snap(1, ipGroup("tg-1", healthCheck(func(hc *model.HealthCheckConfig) {
		hc.UnhealthyThresholdCount = ptr(10)
	}), tgt)))
	h.waitStatus("tg-1", tgt, "HEALTHY")
	st, _ := h.reg.Lookup(tgt.Key)

	b.srv.Close() // the target dies: connections are refused
	// What the proxy does at its first refused connection: a short
	// mark-down (its own expiry passes during the checks below).
	st.MarkDown(time.Now().Add(5 * testScale))
	failed := func() int { return strings.Count(h.logs.String(), "connection refused") }
	base := failed()
	deadline := time.Now().Add(waitLimit)
	for failed() < base+4 {
		if st.Available(time.Now().UnixNano()) {
			t.Fatalf("after %d failed checks the dead target is back in rotation", failed()-base)
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for failed checks")
		}
		time.Sleep(time.Millisecond)
	}
	if st.Available(time.Now().UnixNano()) {
		t.Fatal("the dead target is back in rotation")
	}
	h.wantStatus("tg-1", tgt, "HEALTHY", "") // below the threshold of 10

	// A passing check brings it back.
	ln, err := net.Listen("tcp", b.addr.String())
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", b.addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	eventually(t, "a passing check to clear the mark-down", func() bool { return st.Available(time.Now().UnixNano()) })
}

// rawTarget answers every connection with handle (after reading the
// request head).
func rawTarget(t *testing.T, handle func(c *net.TCPConn)) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				handle(c.(*net.TCPConn))
			}()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

// A check reads the whole response: a target whose responses break off
// after the status line fails its checks as it fails requests.
func TestCheckReadsTheWholeBody(t *testing.T) {
	resets := rawTarget(t, func(c *net.TCPConn) {
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"))
		time.Sleep(5 * time.Millisecond)
		c.SetLinger(0) // RST
	})
	truncated := rawTarget(t, func(c *net.TCPConn) {
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"))
	})
	hangs := rawTarget(t, func(c *net.TCPConn) {
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"))
		time.Sleep(time.Second)
	})
	whole := rawTarget(t, func(c *net.TCPConn) {
		body := strings.Repeat("x", maxBody+100) // more than a check reads
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body))
	})
	h := newHarness(t, nil)
	hc := healthCheck(func(hc *model.HealthCheckConfig) {
		hc.HealthCheckIntervalSeconds = ptr(5)
		hc.HealthCheckTimeoutSeconds = ptr(5)
	})
	tr, tt, th, tw := ipTarget("tg-1", resets), ipTarget("tg-1", truncated), ipTarget("tg-1", hangs), ipTarget("tg-1", whole)
	h.publish(snap(1, ipGroup("tg-1", hc, tr, tt, th, tw)))
	for _, bad := range []*snapshot.Target{tr, tt, th} {
		if reason := h.waitStatus("tg-1", bad, "UNHEALTHY"); reason != ReasonHealthCheckFailed {
			t.Errorf("reason = %q", reason)
		}
	}
	h.waitStatus("tg-1", tw, "HEALTHY")
	h.waitLog("response body: connection reset")
	h.waitLog("response body: connection closed mid-response")
	h.waitLog("response body: timeout after 50ms")
}

// On its first Sync (a restart) the checker spreads the first checks over
// the interval; a target that appears in a later Sync is checked at once.
func TestFirstChecksSpreadAtStartAndImmediateForNewTargets(t *testing.T) {
	h := newHarness(t, nil)
	// A checker that never synced: its first Sync is a restart.
	h.c.Close()
	h.c = New(Config{Holder: h.holder, Registry: h.reg, IntervalScale: testScale,
		Logger: slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	t.Cleanup(h.c.Close)
	b := newBackend(t, plainHTTP)
	// An interval of 100,000 configured seconds: 1000 s in this test.
	hc := func() *model.HealthCheckConfig {
		return healthCheck(func(hc *model.HealthCheckConfig) { hc.HealthCheckIntervalSeconds = ptr(100000) })
	}
	const n = 20
	var targets []*snapshot.Target
	for i := range n {
		targets = append(targets, &snapshot.Target{ID: "t" + itoa(i), Port: int(b.addr.Port()), Addr: b.addr,
			Key: upstream.TargetKey("tg-1", "t"+itoa(i), int(b.addr.Port()))})
	}
	h.publish(snap(1, ipGroup("tg-1", hc(), targets...)))
	for _, tgt := range targets {
		h.wantStatus("tg-1", tgt, "INITIAL", "")
	}
	time.Sleep(50 * time.Millisecond)
	// Spread uniformly over 1000 s, the chance of even one check in the
	// first second is 2%; load only delays checks.
	if c := b.count(); c > n/2 {
		t.Fatalf("%d of %d targets checked right after a restart; the first checks are not spread", c, n)
	}

	// Registered while running: checked now, HEALTHY after one pass.
	newT := &snapshot.Target{ID: "new", Port: int(b.addr.Port()), Addr: b.addr,
		Key: upstream.TargetKey("tg-1", "new", int(b.addr.Port()))}
	h.publish(snap(2, ipGroup("tg-1", hc(), append(targets[:n:n], newT)...)))
	h.waitStatus("tg-1", newT, "HEALTHY")
}

// Checks in flight are bounded by MaxConcurrentChecks; due checks wait for
// a free slot.
func TestMaxConcurrentChecks(t *testing.T) {
	var total atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		total.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	addr := netip.MustParseAddrPort(srv.Listener.Addr().String())
	h := newHarness(t, func(c *Config) { c.MaxConcurrentChecks = 3 })
	var targets []*snapshot.Target
	for i := range 10 {
		targets = append(targets, &snapshot.Target{ID: "t" + itoa(i), Port: int(addr.Port()), Addr: addr,
			Key: upstream.TargetKey("tg-1", "t"+itoa(i), int(addr.Port()))})
	}
	h.publish(snap(1, ipGroup("tg-1", healthCheck(func(hc *model.HealthCheckConfig) {
		hc.HealthCheckIntervalSeconds = ptr(1000) // 10s: one check each here
		hc.HealthCheckTimeoutSeconds = ptr(1000)  // the first checks hang
	}), targets...)))
	eventually(t, "3 checks", func() bool { return total.Load() >= 3 })
	time.Sleep(20 * testScale)
	if n := total.Load(); n != 3 {
		t.Fatalf("%d checks started while 3 hang, want 3 (MaxConcurrentChecks)", n)
	}
	close(release)
	eventually(t, "every target checked", func() bool { return total.Load() == 10 })
	for _, tgt := range targets {
		h.waitStatus("tg-1", tgt, "HEALTHY")
	}
}

// A check in flight when its target leaves is cancelled and records
// nothing.
func TestRemovedMidCheckRecordsNothing(t *testing.T) {
	h := newHarness(t, nil)
	b := newBackend(t, plainHTTP)
	b.hold()
	tgt := ipTarget("tg-1", b.addr)
	h.publish(snap(1, ipGroup("tg-1", healthCheck(func(hc *model.HealthCheckConfig) {
		hc.HealthCheckTimeoutSeconds = ptr(100)
	}), tgt)))
	eventually(t, "a check in flight", func() bool { return b.count() == 1 })
	h.publish(snap(2))
	b.open()
	time.Sleep(20 * testScale)
	h.wantStatus("tg-1", tgt, "INITIAL", "")
	if h.proberCount() != 0 {
		t.Fatalf("%d probers after the target left", h.proberCount())
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
