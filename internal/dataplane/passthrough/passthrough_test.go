package passthrough

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
	"github.com/trellis-net/trellis/internal/dataplane/auth"
	"github.com/trellis-net/trellis/internal/dataplane/tlspeek"
	"github.com/trellis-net/trellis/internal/dataplane/vpcnet"
	"github.com/trellis-net/trellis/internal/policy"
)

// A real TLS client reaches a real TLS target through the passthrough: the
// handshake is the target's (its certificate), bytes go both ways, and a
// half-close (FIN) travels each way while the other side still answers.
func TestEndToEnd(t *testing.T) {
	p := newPKI(t)
	tgt := startTarget(t, p, "target-a")
	sawFIN := make(chan error, 1)
	tgt.handle = func(raw net.Conn, c *tls.Conn) {
		msg, err := io.ReadAll(c) // until the client's close_notify
		if err != nil {
			sawFIN <- err
			return
		}
		// The client half-closed its TCP side too: the relay passes the
		// FIN on, so the socket reads EOF.
		var one [1]byte
		_, err = raw.Read(one[:])
		sawFIN <- err
		c.Write(append([]byte("got "), msg...))
	}
	tg := targetGroup("tg-a", tgt.addr)
	e := newEnv(t, fixture(ListenerProtocol, weighted{tg, 1}), nil)

	tc, nc, err := e.dial(t, p.pool, "SVC.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if cn := tc.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "target-a" {
		t.Fatalf("certificate of %q: the handshake was not the target's", cn)
	}
	if _, err := tc.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := tc.CloseWrite(); err != nil { // close_notify
		t.Fatal(err)
	}
	if err := nc.CloseWrite(); err != nil { // FIN
		t.Fatal(err)
	}
	if err := <-sawFIN; err != io.EOF {
		t.Fatalf("target's read after the client's FIN: %v, want EOF", err)
	}
	reply, err := io.ReadAll(tc)
	if err != nil || string(reply) != "got hello" {
		t.Fatalf("reply %q, %v", reply, err)
	}

	rec := e.log.next(t)
	le := rec.e
	if len(rec.svcSubs) != 1 || len(rec.snSubs) != 1 {
		t.Errorf("record went to %d service and %d network subscriptions", len(rec.svcSubs), len(rec.snSubs))
	}
	checks := []struct{ field, got, want string }{
		{"serviceArn", le.ServiceARN, latticeARN("service", "svc-1")},
		{"serviceNetworkArn", le.ServiceNetworkARN, latticeARN("servicenetwork", "sn-1")},
		{"targetGroupArn", le.TargetGroupARN, tg.ARN},
		{"listenerId", le.ListenerID, "listener-1"},
		{"listenerType", le.ListenerType, "TLS_PASSTHROUGH"},
		{"protocol", le.Protocol, "TCP"},
		{"sourceVpcId", le.SourceVPCID, "vpc-00000000000000001"},
		{"destinationVpcId", le.DestinationVPCID, tg.VpcID},
		{"serverNameIndication", le.ServerNameIndication, domain},
		{"targetIpPort", le.Target.String(), tgt.addr.String()},
		{"sourceIpPort", le.Source.String(), nc.LocalAddr().String()},
		{"failureReason", le.FailureReason, ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.field, c.got, c.want)
		}
	}
	if le.BytesReceived < 300 || le.BytesSent < 300 || le.Status != -1 {
		t.Errorf("bytes received %d, sent %d (a TLS handshake each way), status %d", le.BytesReceived, le.BytesSent, le.Status)
	}
}

// A connection without a matching service is closed and no target is
// dialed; the network's subscriptions get a record.
func TestRefused(t *testing.T) {
	p := newPKI(t)
	tests := []struct {
		name, sni, proto string
	}{
		{"no SNI", "", ListenerProtocol},
		{"unknown name", "other.example.com", ListenerProtocol},
		{"generated name, not the custom domain", "svc-1-0a1b2c3d4e5f.7d67968.vpc-lattice-svcs.us-east-1.on.aws", ListenerProtocol},
		{"HTTPS listener on the port", domain, "HTTPS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tgt := startTarget(t, p, "target")
			e := newEnv(t, fixture(tc.proto, weighted{targetGroup("tg-a", tgt.addr), 1}), nil)
			if _, _, err := e.dial(t, p.pool, tc.sni); err == nil {
				t.Fatal("handshake completed")
			}
			rec := e.log.next(t)
			if rec.e.FailureReason != accesslog.ClientProtocolError || rec.e.ServiceARN != "" ||
				len(rec.svcSubs) != 0 || len(rec.snSubs) != 1 {
				t.Errorf("record %+v to %d/%d subscriptions", rec.e, len(rec.svcSubs), len(rec.snSubs))
			}
			if n := tgt.accepted.Load(); n != 0 {
				t.Errorf("target dialed %d times", n)
			}
		})
	}
}

// Connections split over TCP target groups by weight; weight 0 gets none.
func TestWeightedTargetGroups(t *testing.T) {
	p := newPKI(t)
	a, b, z := startTarget(t, p, "a"), startTarget(t, p, "b"), startTarget(t, p, "zero")
	e := newEnv(t, fixture(ListenerProtocol,
		weighted{targetGroup("tg-a", a.addr), 3}, weighted{targetGroup("tg-z", z.addr), 0},
		weighted{targetGroup("tg-b", b.addr), 1}), nil)
	const n = 200
	counts := map[string]int{}
	for range n {
		tc, _, err := e.dial(t, p.pool, domain)
		if err != nil {
			t.Fatal(err)
		}
		counts[tc.ConnectionState().PeerCertificates[0].Subject.CommonName]++
		tc.Close()
		e.log.next(t)
	}
	// 150 expected for a: binomial sd ≈ 6.1, so ±6 sd.
	if counts["a"] < 113 || counts["a"] > 187 || counts["a"]+counts["b"] != n {
		t.Errorf("connections per target: %v, want about 3:1", counts)
	}
	if z.accepted.Load() != 0 || counts["zero"] != 0 {
		t.Errorf("the weight-0 group got %d connections", z.accepted.Load())
	}
}

// A target that refuses connections is skipped (and marked down); every
// connection reaches the live one.
func TestDeadTargetSkipped(t *testing.T) {
	p := newPKI(t)
	live := startTarget(t, p, "live")
	dead := deadAddr(t)
	tg := targetGroup("tg-a", dead, live.addr)
	e := newEnv(t, fixture(ListenerProtocol, weighted{tg, 1}), nil)
	for i := range 6 {
		tc, _, err := e.dial(t, p.pool, domain)
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		if cn := tc.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "live" {
			t.Fatalf("connection %d reached %q", i, cn)
		}
		tc.CloseWrite()
		if reply, err := io.ReadAll(tc); err != nil || string(reply) != " from live" {
			t.Fatalf("reply %q, %v", reply, err)
		}
		tc.Close()
		if rec := e.log.next(t); rec.e.FailureReason != "" || rec.e.Target != live.addr {
			t.Fatalf("record: %+v", rec.e)
		}
	}
	if !e.reg.Get(tg.Targets[0].Key).MarkedDown(time.Now().UnixNano()) {
		t.Error("the dead target is not marked down")
	}
}

// With no target reachable the connection is closed, logged as a target
// connection error.
func TestNoTargetReachable(t *testing.T) {
	p := newPKI(t)
	e := newEnv(t, fixture(ListenerProtocol, weighted{targetGroup("tg-a", deadAddr(t), deadAddr(t)), 1}), nil)
	if _, _, err := e.dial(t, p.pool, domain); err == nil {
		t.Fatal("handshake completed")
	}
	if rec := e.log.next(t); rec.e.FailureReason != accesslog.TargetConnectionError || rec.e.TargetGroupARN == "" {
		t.Fatalf("record: %+v", rec.e)
	}
}

// The connection is closed at the cap, however busy; the record says
// ConnectionDurationExceeded.
func TestConnectionCap(t *testing.T) {
	p := newPKI(t)
	tgt := startTarget(t, p, "t")
	tgt.handle = func(_ net.Conn, c *tls.Conn) { io.Copy(c, c) } // echo
	e := newEnv(t, fixture(ListenerProtocol, weighted{targetGroup("tg-a", tgt.addr), 1}), func(c *Config) {
		c.MaxConnDuration = 500 * time.Millisecond
		c.IdleTimeout = time.Hour
	})
	tc, _, err := e.dial(t, p.pool, domain)
	if err != nil {
		t.Fatal(err)
	}
	// Keep it busy until it is cut.
	buf := make([]byte, 4)
	var werr error
	for giveUp := time.Now().Add(20 * time.Second); werr == nil; {
		if time.Now().After(giveUp) {
			t.Fatal("the connection outlived its cap")
		}
		if _, werr = tc.Write([]byte("ping")); werr == nil {
			_, werr = io.ReadFull(tc, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if rec := e.log.next(t); rec.e.FailureReason != accesslog.ConnectionDurationExceeded {
		t.Fatalf("failure reason %q, want ConnectionDurationExceeded", rec.e.FailureReason)
	}
}

// A connection on which nothing moves is closed after the idle timeout;
// bytes in one direction only keep it open.
func TestIdleTimeout(t *testing.T) {
	p := newPKI(t)
	const idle = 400 * time.Millisecond
	tgt := startTarget(t, p, "t")
	tgt.handle = func(_ net.Conn, c *tls.Conn) {
		// One direction only: a byte every idle/8 for 3 idle periods,
		// then silence.
		for i := 0; i < 24; i++ {
			if _, err := c.Write([]byte{'x'}); err != nil {
				return
			}
			time.Sleep(idle / 8)
		}
		io.Copy(io.Discard, c)
	}
	e := newEnv(t, fixture(ListenerProtocol, weighted{targetGroup("tg-a", tgt.addr), 1}), func(c *Config) {
		c.IdleTimeout = idle
	})
	tc, _, err := e.dial(t, p.pool, domain)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(tc)
	if len(got) != 24 {
		t.Fatalf("read %d bytes before the close (%v): a one-way stream was cut as idle", len(got), err)
	}
	rec := e.log.next(t)
	if rec.e.FailureReason != "" || rec.e.BytesSent < 24 {
		t.Fatalf("record %+v", rec.e)
	}
}

// Cancelling ServeConn's context (a shutdown) closes the connection.
func TestShutdownClosesConnection(t *testing.T) {
	p := newPKI(t)
	tgt := startTarget(t, p, "t")
	tgt.handle = func(_ net.Conn, c *tls.Conn) { io.Copy(c, c) }
	e := newEnv(t, fixture(ListenerProtocol, weighted{targetGroup("tg-a", tgt.addr), 1}), nil)
	// An ingress of the test's own, to own ServeConn's context.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		hello, raw, err := tlspeek.Peek(c, 0)
		if err != nil {
			c.Close()
			return
		}
		e.p.ServeConn(ctx, c, "vpc-00000000000000001", lstPort, hello, raw)
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	tc := tls.Client(nc, &tls.Config{ServerName: domain, RootCAs: p.pool})
	if _, err := tc.Write([]byte("ping")); err != nil { // handshake and a round trip
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(tc, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	if _, err := tc.Read(buf); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after shutdown: %v, want the connection closed", err)
	}
}

// The target is dialed from the network of the target group's VPC (its
// namespace, for a netns VPC): the Lookup is asked for that VPC, and the
// connection goes through the Net it returns.
func TestDialsFromTargetGroupVPC(t *testing.T) {
	p := newPKI(t)
	tgt := startTarget(t, p, "t")
	tg := targetGroup("tg-a", tgt.addr)
	var asked []string
	var mu sync.Mutex
	e := newEnv(t, fixture(ListenerProtocol, weighted{tg, 1}), func(c *Config) {
		c.Net = func(vpcID string) vpcnet.Net {
			mu.Lock()
			asked = append(asked, vpcID)
			mu.Unlock()
			return vpcnet.Host
		}
	})
	tc, _, err := e.dial(t, p.pool, domain)
	if err != nil {
		t.Fatal(err)
	}
	tc.Close()
	e.log.next(t)
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 1 || asked[0] != tg.VpcID {
		t.Fatalf("networks asked for: %q, want [%s]", asked, tg.VpcID)
	}
}

// A passthrough connection is judged by the auth policies of an AWS_IAM
// service network or service, as an anonymous caller with the keys a
// connection has: a policy that does not allow it (or none at all) closes
// the connection before any target is dialed, and the record says why.
func TestAuthPolicies(t *testing.T) {
	p := newPKI(t)
	svcARN := latticeARN("service", "svc-1")
	allowFrom := func(vpc string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke",` +
			`"Resource":"` + svcARN + `/*","Condition":{"StringEquals":{"vpc-lattice-svcs:SourceVpc":"` + vpc + `"}}}]}`
	}
	needsSigned := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke",` +
		`"Resource":"*","Condition":{"StringEquals":{"aws:PrincipalType":"AssumedRole"}}}]}`
	denyPort := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"},` +
		`{"Effect":"Deny","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*","Condition":{"NumericEquals":{"vpc-lattice-svcs:Port":"443"}}}]}`
	tests := []struct {
		name       string
		level      string // "network" or "service"
		policy     string // "" with AWS_IAM: no policy at all
		allowed    bool
		wantReason string
	}{
		{"network allows this VPC", "network", allowFrom("vpc-00000000000000001"), true, ""},
		{"network allows another VPC", "network", allowFrom("vpc-0ffffffffffffffff"), false, "Network"},
		{"service allows this VPC", "service", allowFrom("vpc-00000000000000001"), true, ""},
		{"service wants a signed caller", "service", needsSigned, false, "Service"},
		{"service denies the port", "service", denyPort, false, "Service"},
		{"service AWS_IAM without a policy", "service", "", false, "Service"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tgt := startTarget(t, p, "target")
			tgt.handle = func(_ net.Conn, c *tls.Conn) { io.Copy(c, c) }
			snap := fixture(ListenerProtocol, weighted{targetGroup("tg-a", tgt.addr), 1})
			vpc := snap.VPCs["vpc-00000000000000001"]
			var pol *policy.Policy
			if tc.policy != "" {
				var err error
				if pol, err = policy.Parse(tc.policy); err != nil {
					t.Fatal(err)
				}
			}
			if tc.level == "network" {
				vpc.ServiceNetwork.AuthType, vpc.ServiceNetwork.Policy = "AWS_IAM", pol
			} else {
				svc := vpc.Hosts.Get(domain)
				svc.AuthType, svc.Policy = "AWS_IAM", pol
			}
			e := newEnv(t, snap, func(c *Config) { c.Auth = auth.New(c.Holder, region, nil) })
			tc2, _, err := e.dial(t, p.pool, domain)
			if tc.allowed {
				if err != nil {
					t.Fatalf("allowed connection: %v", err)
				}
				if _, err := tc2.Write([]byte("ping")); err != nil {
					t.Fatal(err)
				}
				var b [4]byte
				if _, err := io.ReadFull(tc2, b[:]); err != nil || string(b[:]) != "ping" {
					t.Fatalf("echo %q, %v", b, err)
				}
				tc2.Close()
			} else if err == nil {
				t.Fatal("denied connection completed its handshake")
			}
			rec := e.log.next(t)
			if !rec.e.AuthChecked || rec.e.AuthDeniedReason != tc.wantReason {
				t.Errorf("record: authChecked %v, authDeniedReason %q, want %q", rec.e.AuthChecked, rec.e.AuthDeniedReason, tc.wantReason)
			}
			if !tc.allowed {
				if rec.e.FailureReason != accesslog.ClientAccessDenied {
					t.Errorf("failureReason %q, want ClientAccessDenied", rec.e.FailureReason)
				}
				if n := tgt.accepted.Load(); n != 0 {
					t.Errorf("target dialed %d times for a denied connection", n)
				}
			}
		})
	}
}

// A connection to a service nobody subscribes to is recorded while someone
// taps the service (`trellis logs tail`), and not otherwise.
func TestTappedWithoutSubscriptions(t *testing.T) {
	p := newPKI(t)
	tgt := startTarget(t, p, "target-a")
	tgt.handle = func(raw net.Conn, c *tls.Conn) { c.Write([]byte("hi")) }
	snap := fixture(ListenerProtocol, weighted{targetGroup("tg-a", tgt.addr), 1})
	for _, v := range snap.VPCs {
		v.ServiceNetwork.AccessLogs = nil
		for _, svc := range v.Hosts.All() {
			svc.AccessLogs = nil
		}
	}
	e := newEnv(t, snap, nil)
	talk := func() {
		tc, _, err := e.dial(t, p.pool, "SVC.example.com")
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(tc)
		tc.Close()
	}
	tapped := latticeARN("service", "svc-1")
	e.log.tapped.Store(&tapped)
	talk()
	rec := e.log.next(t)
	if rec.e.ServiceARN != tapped || len(rec.svcSubs)+len(rec.snSubs) != 0 {
		t.Fatalf("record %+v", rec)
	}
	e.log.tapped.Store(nil)
	talk()
	select {
	case <-e.log.got:
		t.Fatal("the untapped connection was recorded")
	case <-time.After(100 * time.Millisecond):
	}
}
