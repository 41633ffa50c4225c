package app_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	dto "github.com/prometheus/client_model/go"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// TestMetricsConnections checks the connection-level series exactly after
// known connections: an HTTP/1.1 keep-alive connection with several
// requests, an h2c one, TLS with HTTP/1.1 and with ALPN h2, a handshake
// for a name no service has, one the client aborts (an untrusted
// certificate), and a request whose only target's port is closed.
func TestMetricsConnections(t *testing.T) {
	const httpPort, tlsPort = 18095, 18445
	const vpcID = "vpc-00000000000000001"
	w := newWorld(t, apptest.Options{MetricsAddr: "127.0.0.1:0"})
	addr := w.s.App.MetricsAddr()
	roots := caPool(t, w.s)
	b := newBackend(t, "orders")
	tgOK := w.targetGroup("okay", nil, b)
	// A target whose port nothing listens on; no health checks, so that
	// the request dials it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	tgClosed := need(w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("closed"), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp,
			VpcIdentifier: aws.String("vpc-0000000000000000f"), HealthCheck: &types.HealthCheckConfig{Enabled: aws.Bool(false)}}})).ok(t)
	need(w.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tgClosed.Id,
		Targets: []types.Target{{Id: aws.String("127.0.0.1"), Port: aws.Int32(int32(closedPort))}}})).ok(t)
	l := need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(httpPort), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tgOK.Id}}}}})).ok(t)
	need(w.c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: l.Id, Name: aws.String("closed"),
		Priority: aws.Int32(10), Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{
			PathMatch: &types.PathMatch{Match: &types.PathMatchTypeMemberPrefix{Value: "/closed"}}}},
		Action: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tgClosed.Id}}}}})).ok(t)
	w.httpsListener(w.svc.Id, tlsPort, tgOK.Id)
	ingress := w.clientVPC(vpcID, w.sn.Id)
	host := *w.svc.DnsEntry.DomainName

	// Warm up both sockets, then let every connection go.
	eventually(t, 5*time.Second, "the HTTP listener", func() bool {
		st, _, _ := get(t, ingress, httpPort, host, "/warm", nil)
		return st == 200
	})
	client.CloseIdleConnections()
	waitTLS(t, ingress, tlsPort, &tls.Config{RootCAs: roots, ServerName: host}).Close()

	sock := func(port int) map[string]string {
		return map[string]string{"vpc": vpcID, "port": strconv.Itoa(port)}
	}
	with := func(m map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for a, b := range m {
			out[a] = b
		}
		return out
	}
	active := func(mf map[string]*dto.MetricFamily, port int) float64 {
		if m := series(mf, "trellis_active_connections", sock(port)); m != nil {
			return m.GetGauge().GetValue()
		}
		return -1
	}
	idle := func() map[string]*dto.MetricFamily {
		var mf map[string]*dto.MetricFamily
		eventually(t, 5*time.Second, "no open connections", func() bool {
			mf = scrape(t, addr)
			return active(mf, httpPort) == 0 && active(mf, tlsPort) == 0
		})
		return mf
	}
	conns := func(mf map[string]*dto.MetricFamily, port int, proto string) float64 {
		return max(0, counter(mf, "trellis_connections_total", with(sock(port), "protocol", proto)))
	}
	hs := func(mf map[string]*dto.MetricFamily, svc, result string) float64 {
		return max(0, counter(mf, "trellis_tls_handshakes_total", with(with(sock(tlsPort), "service", svc), "result", result)))
	}
	before := idle()

	// HTTP/1.1 keep-alive: one connection, three requests; it is open
	// while the client keeps it.
	h1tr := &http.Transport{}
	h1c := &http.Client{Timeout: 10 * time.Second, Transport: h1tr}
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest("GET", "http://"+net.JoinHostPort(ingress, strconv.Itoa(httpPort))+"/ka", nil)
		req.Host = host
		res, err := h1c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("keep-alive request %d: %d", i, res.StatusCode)
		}
	}
	if got := active(scrape(t, addr), httpPort); got != 1 {
		t.Errorf("active connections with one keep-alive connection open: %v, want 1", got)
	}
	h1tr.CloseIdleConnections()

	// h2c with prior knowledge: one connection, two streams.
	protos := new(http.Protocols)
	protos.SetUnencryptedHTTP2(true)
	h2tr := &http.Transport{Protocols: protos}
	h2c := &http.Client{Timeout: 10 * time.Second, Transport: h2tr}
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest("GET", "http://"+net.JoinHostPort(ingress, strconv.Itoa(httpPort))+"/h2c", nil)
		req.Host = host
		res, err := h2c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || res.ProtoMajor != 2 {
			t.Fatalf("h2c request %d: %d over HTTP/%d", i, res.StatusCode, res.ProtoMajor)
		}
	}
	h2tr.CloseIdleConnections()

	// TLS: HTTP/1.1 and ALPN h2, one connection each.
	for _, h2 := range []bool{false, true} {
		c := httpsClient(ingress, tlsPort, roots, host, h2)
		if code, _, body := do(t, c, host, tlsPort, "/tls"); code != 200 || body != "orders" {
			t.Fatalf("HTTPS (h2 %v): %d %q", h2, code, body)
		}
		c.CloseIdleConnections()
	}
	// A handshake for a name no service has: refused by the server.
	if c, err := tlsDial(ingress, tlsPort, &tls.Config{RootCAs: roots, ServerName: "nothing.example"}); err == nil {
		c.Close()
		t.Fatal("a handshake for a name no service has succeeded")
	}
	// A handshake for the service's name that the client aborts: it does
	// not trust the certificate.
	if c, err := tlsDial(ingress, tlsPort, &tls.Config{RootCAs: x509.NewCertPool(), ServerName: host}); err == nil {
		c.Close()
		t.Fatal("a handshake with an untrusted certificate succeeded")
	}
	// A target whose port is closed: one connection error.
	if st, _, _ := get(t, ingress, httpPort, host, "/closed", nil); st != http.StatusBadGateway {
		t.Fatalf("request to a closed port: %d, want 502", st)
	}
	client.CloseIdleConnections()

	// The server counts a connection's handshake and protocol on the
	// connection's own goroutine, which may still be running when the
	// client's side is over (an aborted handshake): wait until the last
	// of them is in, then read everything from that one scrape.
	var after map[string]*dto.MetricFamily
	eventually(t, 5*time.Second, "the aborted handshake counted", func() bool {
		after = idle()
		return hs(after, *w.svc.Id, "error")+hs(after, *w.svc.Id, "ok")-hs(before, *w.svc.Id, "error")-hs(before, *w.svc.Id, "ok") >= 3 &&
			conns(after, tlsPort, "none")-conns(before, tlsPort, "none") >= 2 &&
			// The /closed request's connection, ended by the client's
			// CloseIdleConnections: CI once scraped before its count.
			conns(after, httpPort, "http1")-conns(before, httpPort, "http1") >= 2
	})
	for _, c := range []struct {
		what string
		got  float64
		want float64
	}{
		// The keep-alive connection and the /closed request's.
		{"HTTP/1 connections on the HTTP port", conns(after, httpPort, "http1") - conns(before, httpPort, "http1"), 2},
		{"HTTP/2 connections on the HTTP port", conns(after, httpPort, "http2") - conns(before, httpPort, "http2"), 1},
		{"HTTP/1 connections on the TLS port", conns(after, tlsPort, "http1") - conns(before, tlsPort, "http1"), 1},
		{"HTTP/2 connections on the TLS port", conns(after, tlsPort, "http2") - conns(before, tlsPort, "http2"), 1},
		{"failed connections on the TLS port", conns(after, tlsPort, "none") - conns(before, tlsPort, "none"), 2},
		// The client that rejects the certificate aborts after the
		// server has sent its whole flight: the server's side ends as a
		// failure when it reads the alert, but it was seen to end as a
		// success too (the server done before the alert came), so that
		// one counts either way — once.
		{"handshakes for the service", hs(after, *w.svc.Id, "ok") + hs(after, *w.svc.Id, "error") -
			hs(before, *w.svc.Id, "ok") - hs(before, *w.svc.Id, "error"), 3},
		{"handshakes ok for the service, at least the two used", min(2, hs(after, *w.svc.Id, "ok")-hs(before, *w.svc.Id, "ok")), 2},
		{"handshakes failed for no service", hs(after, "", "error") - hs(before, "", "error"), 1},
		{"connection errors to the closed port", counter(after, "trellis_target_connections_total",
			map[string]string{"target_group": *tgClosed.Id, "result": "error"}), 1},
		{"connections to the closed port", max(0, counter(after, "trellis_target_connections_total",
			map[string]string{"target_group": *tgClosed.Id, "result": "connected"})), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s: %v, want %v", c.what, c.got, c.want)
		}
	}
	if got := counter(after, "trellis_target_connections_total", map[string]string{"target_group": *tgOK.Id, "result": "connected"}); got < 1 {
		t.Errorf("connections to the backend: %v", got)
	}
	if got := counter(after, "trellis_connections_total", with(sock(httpPort), "protocol", "passthrough")); got != 0 {
		t.Errorf("passthrough connections on the HTTP port: %v", got)
	}
}
