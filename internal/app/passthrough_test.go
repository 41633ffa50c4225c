package app_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// tlsTarget is a TLS server on 127.0.0.1 with a self-signed certificate
// of its own for name; each line a client sends comes back prefixed with
// the target's id. accepted counts TCP connections, handshaken or not.
type tlsTarget struct {
	id       string
	ln       net.Listener
	cert     *x509.Certificate
	accepted atomic.Int64
}

func newTLSTarget(t *testing.T, id, name string) *tlsTarget {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name + " (" + id + ")"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{name},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tt := &tlsTarget{id: id, ln: raw, cert: cert}
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	go func() {
		for {
			c, err := raw.Accept()
			if err != nil {
				return
			}
			tt.accepted.Add(1)
			go func() {
				defer c.Close()
				tc := tls.Server(c, cfg)
				_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
				r := bufio.NewReader(tc)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := io.WriteString(tc, id+":"+line); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { raw.Close() })
	return tt
}

func (tt *tlsTarget) port() int32 { return int32(tt.ln.Addr().(*net.TCPAddr).Port) }

// tcpGroup creates a TCP target group holding the targets.
func (w *world) tcpGroup(name string, targets ...*tlsTarget) *vpclattice.CreateTargetGroupOutput {
	tg := need(w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String(name), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(443), Protocol: types.TargetGroupProtocolTcp,
			VpcIdentifier: aws.String("vpc-0000000000000000f")}})).ok(w.t)
	var ts []types.Target
	for _, g := range targets {
		ts = append(ts, types.Target{Id: aws.String("127.0.0.1"), Port: aws.Int32(g.port())})
	}
	need(w.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id, Targets: ts})).ok(w.t)
	return tg
}

// TestTLSPassthroughEndToEnd: a TLS_PASSTHROUGH listener of a service with
// a custom domain relays TLS untouched to TCP target groups (weighted):
// the client verifies the target's own certificate and bytes flow both
// ways. The same port carries an HTTPS listener of another service, which
// Trellis terminates: SNI picks. An SNI naming nothing, or the passthrough
// service's generated name, is refused without dialing a target. The
// service network's access log has one record per relayed connection.
func TestTLSPassthroughEndToEnd(t *testing.T) {
	const port = 18445
	const domain = "orders.internal" // newWorld's service's custom domain
	w := newWorld(t, apptest.Options{})
	a, b := newTLSTarget(t, "a", domain), newTLSTarget(t, "b", domain)
	tgA, tgB := w.tcpGroup("tls-a", a), w.tcpGroup("tls-b", b)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("pass"),
		Protocol: types.ListenerProtocolTlsPassthrough, Port: aws.Int32(port), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tgA.Id, Weight: aws.Int32(50)},
				{TargetGroupIdentifier: tgB.Id, Weight: aws.Int32(50)}}}}})).ok(t)
	billing := newBackend(t, "billing")
	billingSvc := w.associatedService("billing", "", "")
	w.httpsListener(billingSvc.Id, port, w.targetGroup("billing", nil, billing).Id)
	// And a cleartext HTTP listener of a third service on the port.
	plain := newBackend(t, "plain")
	plainSvc := w.associatedService("plain", "", "")
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: plainSvc.Id, Name: aws.String("http"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(port), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: w.targetGroup("plain", nil, plain).Id}}}}})).ok(t)
	// A passthrough service in no network the VPC reaches.
	secret := newTLSTarget(t, "s", "secret.internal")
	secretSvc := need(w.c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("secret"),
		CustomDomainName: aws.String("secret.internal")})).ok(t)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: secretSvc.Id, Name: aws.String("pass"),
		Protocol: types.ListenerProtocolTlsPassthrough, Port: aws.Int32(port), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: w.tcpGroup("secret", secret).Id}}}}})).ok(t)
	acct := w.s.Account
	need(w.c.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: w.sn.Arn,
		DestinationArn: aws.String("arn:aws:logs:us-east-1:" + acct + ":log-group:/lattice/pass")})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)

	targetRoots := x509.NewCertPool()
	targetRoots.AddCert(a.cert)
	targetRoots.AddCert(b.cert)
	passCfg := &tls.Config{RootCAs: targetRoots, ServerName: domain}
	waitTLS(t, ingress, port, passCfg).Close()
	relayed := 1

	t.Run("relayed to the target, its certificate, bytes both ways", func(t *testing.T) {
		seen := map[string]int{}
		for i := 0; i < 40; i++ {
			c, err := tlsDial(ingress, port, passCfg)
			if err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
			relayed++
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			peer := c.ConnectionState().PeerCertificates[0]
			r := bufio.NewReader(c)
			var id string
			for _, msg := range []string{"hello\n", "second line\n"} {
				if _, err := io.WriteString(c, msg); err != nil {
					t.Fatal(err)
				}
				got, err := r.ReadString('\n')
				if err != nil || len(got) < 2 || got[1] != ':' || got[2:] != msg {
					t.Fatalf("connection %d: echo %q, %v", i, got, err)
				}
				id = got[:1]
			}
			c.Close()
			want := map[string]*x509.Certificate{"a": a.cert, "b": b.cert}[id]
			if want == nil || !peer.Equal(want) {
				t.Fatalf("connection %d answered by %q presented %q", i, id, peer.Subject.CommonName)
			}
			seen[id]++
		}
		if seen["a"] < 5 || seen["b"] < 5 {
			t.Fatalf("50/50 weights over 40 connections: %v", seen)
		}
	})

	t.Run("a megabyte each way", func(t *testing.T) {
		c, err := tlsDial(ingress, port, passCfg)
		if err != nil {
			t.Fatal(err)
		}
		relayed++
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		line := make([]byte, 1<<20)
		for i := range line {
			line[i] = 'a' + byte(i%26)
		}
		line[len(line)-1] = '\n'
		go func() { _, _ = c.Write(line) }()
		got, err := bufio.NewReaderSize(c, 4096).ReadString('\n')
		if err != nil || len(got) != len(line)+2 || got[2:] != string(line) {
			t.Fatalf("echo of %d bytes: %d bytes back, %v", len(line), len(got), err)
		}
	})

	t.Run("cleartext HTTP on the same port", func(t *testing.T) {
		// The HTTP listener's service is served; the TLS ones answer 400.
		if code, body, _ := get(t, ingress, port, *plainSvc.DnsEntry.DomainName, "/", nil); code != 200 || body != "plain" {
			t.Fatalf("plain: %d %q", code, body)
		}
		before := a.accepted.Load() + b.accepted.Load() + billing.hits.Load()
		for _, h := range []string{domain, *billingSvc.DnsEntry.DomainName} {
			if code, body, _ := get(t, ingress, port, h, "/", nil); code != http.StatusBadRequest {
				t.Fatalf("cleartext to %s: %d %q, want 400", h, code, body)
			}
		}
		if after := a.accepted.Load() + b.accepted.Load() + billing.hits.Load(); after != before {
			t.Fatal("a target was reached")
		}
	})

	t.Run("SNI picks: the HTTPS listener of another service on the same port", func(t *testing.T) {
		bh := *billingSvc.DnsEntry.DomainName
		before := a.accepted.Load() + b.accepted.Load()
		code, proto, body := do(t, httpsClient(ingress, port, caPool(t, w.s), bh, true), bh, port, "/")
		if code != 200 || proto != "HTTP/2.0" || body != "billing" {
			t.Fatalf("%d %s %q", code, proto, body)
		}
		if after := a.accepted.Load() + b.accepted.Load(); after != before {
			t.Fatal("a passthrough target was dialed")
		}
	})

	for _, tc := range []struct{ name, sni string }{
		{"an SNI that matches nothing", "nothing.example.com"},
		{"the generated name (Lattice matches the custom domain only)", *w.svc.DnsEntry.DomainName},
		{"no SNI", ""},
		{"the HTTP listener's service", *plainSvc.DnsEntry.DomainName},
		{"a passthrough service the VPC does not reach", "secret.internal"},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			before := a.accepted.Load() + b.accepted.Load() + secret.accepted.Load()
			c, err := tlsDial(ingress, port, &tls.Config{InsecureSkipVerify: true, ServerName: tc.sni})
			if err == nil {
				c.Close()
				t.Fatalf("handshake succeeded, with %q", c.ConnectionState().PeerCertificates[0].Subject.CommonName)
			}
			if after := a.accepted.Load() + b.accepted.Load() + secret.accepted.Load(); after != before {
				t.Fatal("a target was dialed")
			}
		})
	}

	t.Run("one access log record per relayed connection", func(t *testing.T) {
		glob := filepath.Join(w.s.DataDir, "accesslogs", "cloudwatch", acct, "us-east-1", "%2Flattice%2Fpass", *w.sn.Id+".log")
		// Connection records: protocol TCP. (The cleartext request to the
		// passthrough listener above has a record too, of protocol
		// HTTP/1.1 with its 400.)
		count := func(recs []map[string]any) (n int) {
			for _, r := range recs {
				if r["listenerType"] == "TLS_PASSTHROUGH" && r["protocol"] == "TCP" {
					n++
				}
			}
			return n
		}
		var recs []map[string]any
		eventually(t, 5*time.Second, "the records", func() bool {
			recs = readJSONLines(t, glob)
			return count(recs) >= relayed
		})
		if n := count(recs); n != relayed {
			t.Fatalf("%d passthrough records for %d connections", n, relayed)
		}
		for _, r := range recs {
			if r["listenerType"] != "TLS_PASSTHROUGH" || r["protocol"] != "TCP" {
				continue
			}
			if r["serverNameIndication"] != domain || r["serviceArn"] != *w.svc.Arn ||
				(r["targetGroupArn"] != *tgA.Arn && r["targetGroupArn"] != *tgB.Arn) {
				t.Fatalf("record %v", r)
			}
		}
	})
}

// splitHelloConn re-frames the ClientHello: the first handshake record
// the client writes is sent as records of at most 100 bytes each, byte by
// byte (a segment each: Go sets TCP_NODELAY), as a client on a slow or
// fragmenting path would. split says it happened.
type splitHelloConn struct {
	net.Conn
	done  bool
	split bool
}

func (c *splitHelloConn) Write(b []byte) (int, error) {
	if c.done {
		return c.Conn.Write(b)
	}
	c.done = true
	if len(b) < 5 || b[0] != 22 || int(b[3])<<8|int(b[4]) != len(b)-5 {
		return c.Conn.Write(b) // not exactly one handshake record: as is
	}
	var out []byte
	for p := b[5:]; len(p) > 0; {
		n := min(len(p), 100)
		out = append(out, 22, b[1], b[2], byte(n>>8), byte(n))
		out = append(out, p[:n]...)
		p = p[n:]
	}
	for i := range out {
		if _, err := c.Conn.Write(out[i : i+1]); err != nil {
			return 0, err
		}
	}
	c.split = true
	return len(b), nil
}

// TestTLSClientHelloFragmented: a ClientHello spread over many TLS records
// and TCP segments is read whole by the ingress, for a passthrough
// listener (relayed to the target, which reassembles it itself) and for
// an HTTPS listener (terminated) on the same port.
func TestTLSClientHelloFragmented(t *testing.T) {
	const port = 18448
	const domain = "orders.internal"
	w := newWorld(t, apptest.Options{})
	target := newTLSTarget(t, "a", domain)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("pass"),
		Protocol: types.ListenerProtocolTlsPassthrough, Port: aws.Int32(port), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: w.tcpGroup("tls-a", target).Id}}}}})).ok(t)
	billing := newBackend(t, "billing")
	billingSvc := w.associatedService("billing", "", "")
	w.httpsListener(billingSvc.Id, port, w.targetGroup("billing", nil, billing).Id)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	roots := caPool(t, w.s)
	targetRoots := x509.NewCertPool()
	targetRoots.AddCert(target.cert)
	bh := *billingSvc.DnsEntry.DomainName
	// Configuration in force.
	waitTLS(t, ingress, port, &tls.Config{RootCAs: targetRoots, ServerName: domain}).Close()
	waitTLS(t, ingress, port, &tls.Config{RootCAs: roots, ServerName: bh}).Close()

	for _, tc := range []struct {
		name string
		cfg  *tls.Config
		want string // the certificate's first DNS name
	}{
		{"passthrough", &tls.Config{RootCAs: targetRoots, ServerName: domain}, domain},
		{"terminated", &tls.Config{RootCAs: roots, ServerName: bh, NextProtos: []string{"http/1.1"}}, bh},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := net.DialTimeout("tcp", net.JoinHostPort(ingress, strconv.Itoa(port)), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			sc := &splitHelloConn{Conn: raw}
			c := tls.Client(sc, tc.cfg)
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if err := c.Handshake(); err != nil {
				t.Fatalf("handshake (hello split: %v): %v", sc.split, err)
			}
			if !sc.split {
				t.Fatal("the ClientHello was not re-framed; the test proves nothing")
			}
			if got := c.ConnectionState().PeerCertificates[0].DNSNames[0]; got != tc.want {
				t.Fatalf("certificate for %s", got)
			}
			if tc.name == "passthrough" {
				io.WriteString(c, "x\n")
				if got, err := bufio.NewReader(c).ReadString('\n'); err != nil || got != "a:x\n" {
					t.Fatalf("echo %q %v", got, err)
				}
				return
			}
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+bh+"\r\nConnection: close\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(body) != "billing" {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
		})
	}
}

// TestTLSPassthroughTargetDown: with its only target refusing
// connections, a passthrough connection is closed (the client's handshake
// fails) and logged with failureReason TargetConnectionError.
func TestTLSPassthroughTargetDown(t *testing.T) {
	const port = 18449
	w := newWorld(t, apptest.Options{})
	dead := newTLSTarget(t, "d", "orders.internal")
	tg := w.tcpGroup("dead", dead)
	dead.ln.Close()
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("pass"),
		Protocol: types.ListenerProtocolTlsPassthrough, Port: aws.Int32(port), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	acct := w.s.Account
	need(w.c.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: w.svc.Id,
		DestinationArn: aws.String("arn:aws:logs:us-east-1:" + acct + ":log-group:/lattice/dead")})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	glob := filepath.Join(w.s.DataDir, "accesslogs", "cloudwatch", acct, "us-east-1", "%2Flattice%2Fdead", *w.svc.Id+".log")
	var rec map[string]any
	eventually(t, 5*time.Second, "a logged connection", func() bool {
		if c, err := tlsDial(ingress, port, &tls.Config{InsecureSkipVerify: true, ServerName: "orders.internal"}); err == nil {
			c.Close()
			t.Fatal("a handshake succeeded with no target up")
		}
		for _, r := range readJSONLines(t, glob) {
			if r["listenerType"] == "TLS_PASSTHROUGH" {
				rec = r
				return true
			}
		}
		return false
	})
	if rec["failureReason"] != "TargetConnectionError" || rec["serverNameIndication"] != "orders.internal" || rec["targetGroupArn"] != *tg.Arn {
		t.Fatalf("record %v", rec)
	}
}

// TestTLSPassthroughAuthPolicy: an AWS_IAM passthrough service whose
// policy admits anonymous connections from one VPC only. The admitted
// VPC's connection is relayed; the other's is closed without the target
// being dialed and logged ClientAccessDenied.
func TestTLSPassthroughAuthPolicy(t *testing.T) {
	const port = 18451
	const domain = "orders.internal"
	const allowed, denied = "vpc-00000000000000001", "vpc-00000000000000002"
	w := newWorld(t, apptest.Options{})
	target := newTLSTarget(t, "a", domain)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("pass"),
		Protocol: types.ListenerProtocolTlsPassthrough, Port: aws.Int32(port), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: w.tcpGroup("tls-a", target).Id}}}}})).ok(t)
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*",
		"Condition":{"StringEquals":{"vpc-lattice-svcs:SourceVpc":"` + allowed + `"}}}]}`
	need(w.c.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: w.svc.Id, Policy: aws.String(policy)})).ok(t)
	need(w.c.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: w.svc.Id, AuthType: types.AuthTypeAwsIam})).ok(t)
	acct := w.s.Account
	need(w.c.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: w.svc.Id,
		DestinationArn: aws.String("arn:aws:logs:us-east-1:" + acct + ":log-group:/lattice/authpass")})).ok(t)
	inAllowed, inDenied := w.clientVPC(allowed, w.sn.Id), w.clientVPC(denied, w.sn.Id)
	roots := x509.NewCertPool()
	roots.AddCert(target.cert)
	cfg := &tls.Config{RootCAs: roots, ServerName: domain}

	c := waitTLS(t, inAllowed, port, cfg)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "hi\n")
	if got, err := bufio.NewReader(c).ReadString('\n'); err != nil || got != "a:hi\n" {
		t.Fatalf("admitted VPC: %q %v", got, err)
	}
	c.Close()

	// The denied VPC's association lands in a later snapshot than the
	// allowed one's: wait for it, so that the refusal below is the policy's
	// and not a service the VPC does not reach yet.
	eventually(t, 5*time.Second, "the denied VPC reaching the service", func() bool {
		v := w.s.App.Snapshot().VPCs[denied]
		return v != nil && v.Hosts.Get(domain) != nil
	})
	before := target.accepted.Load()
	if c, err := tlsDial(inDenied, port, cfg); err == nil {
		c.Close()
		t.Fatal("the denied VPC's handshake succeeded")
	}
	if target.accepted.Load() != before {
		t.Fatal("the target was dialed for a denied connection")
	}
	glob := filepath.Join(w.s.DataDir, "accesslogs", "cloudwatch", acct, "us-east-1", "%2Flattice%2Fauthpass", *w.svc.Id+".log")
	var rec map[string]any
	eventually(t, 5*time.Second, "the denied connection's record", func() bool {
		for _, r := range readJSONLines(t, glob) {
			if r["sourceVpcId"] == denied && r["listenerType"] == "TLS_PASSTHROUGH" {
				rec = r
				return true
			}
		}
		return false
	})
	if rec["failureReason"] != "ClientAccessDenied" || rec["authDeniedReason"] == "-" || rec["targetIpPort"] != "-" {
		t.Fatalf("record %v", rec)
	}
}
