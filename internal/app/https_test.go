package app_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/ca"
)

// caPool is a pool holding only the installation CA the API answers.
func caPool(t *testing.T, s *apptest.Server) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM([]byte(getCA(t, s))) {
		t.Fatal("the installation CA does not parse")
	}
	return p
}

// httpsListener creates an HTTPS listener on port of svc forwarding to tg.
func (w *world) httpsListener(svc *string, port int32, tg *string) *vpclattice.CreateListenerOutput {
	return need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc, Name: aws.String("https"),
		Protocol: types.ListenerProtocolHttps, Port: aws.Int32(port), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg}}}}})).ok(w.t)
}

// associatedService creates a service (customDomain and certArn optional)
// and associates it with the world's network.
func (w *world) associatedService(name, customDomain, certArn string) *vpclattice.CreateServiceOutput {
	in := &vpclattice.CreateServiceInput{Name: aws.String(name)}
	if customDomain != "" {
		in.CustomDomainName = aws.String(customDomain)
	}
	if certArn != "" {
		in.CertificateArn = aws.String(certArn)
	}
	svc := need(w.c.CreateService(ctx, in)).ok(w.t)
	need(w.c.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: w.sn.Id, ServiceIdentifier: svc.Id})).ok(w.t)
	return svc
}

// tlsDial connects to ingress:port with a Go TLS client; the handshake
// error, if any, is returned.
func tlsDial(ingress string, port int, cfg *tls.Config) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return tls.DialWithDialer(d, "tcp", net.JoinHostPort(ingress, strconv.Itoa(port)), cfg)
}

// waitTLS retries a handshake while the configuration propagates and
// returns the first one that succeeds.
func waitTLS(t *testing.T, ingress string, port int, cfg *tls.Config) *tls.Conn {
	t.Helper()
	var c *tls.Conn
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for {
		if c, err = tlsDial(ingress, port, cfg); err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("TLS to %s:%d as %q: %v", ingress, port, cfg.ServerName, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// httpsClient is an HTTP client that dials ingress:port whatever the URL
// names, verifies against roots with serverName as SNI, and speaks
// HTTP/2 (ALPN h2) when h2 is set, HTTP/1.1 otherwise.
func httpsClient(ingress string, port int, roots *x509.CertPool, serverName string, h2 bool) *http.Client {
	addr := net.JoinHostPort(ingress, strconv.Itoa(port))
	protos := new(http.Protocols)
	if h2 {
		protos.SetHTTP2(true)
	} else {
		protos.SetHTTP1(true)
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig:   &tls.Config{RootCAs: roots, ServerName: serverName},
		Protocols:         protos,
		ForceAttemptHTTP2: h2,
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: tr}
}

// do sends one GET with Host host and returns status, proto and body.
func do(t *testing.T, c *http.Client, host string, port int, path string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("https://%s:%d%s", host, port, path), nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET https://%s:%d%s: %v", host, port, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Proto, string(b)
}

// testIssuer is a CA of the test's own, as a customer's PKI would be.
func testIssuer(t *testing.T) *ca.CA {
	t.Helper()
	c, _, _, err := ca.Load(t.TempDir(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func leafSerial(t *testing.T, certPEM []byte) string {
	t.Helper()
	b, _ := pem.Decode(certPEM)
	if b == nil {
		t.Fatal("leaf PEM does not decode")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.String()
}

// TestHTTPSListenerEndToEnd drives HTTPS listeners through the API and a
// real Go TLS client: the certificate of the service's generated name
// chains to the installation CA alone; HTTP/1.1 and HTTP/2 (ALPN) reach
// the target with x-forwarded-proto https; SNI is required and must name a
// reachable service; Host must agree with SNI; a custom domain serves its
// imported ACM certificate, and a re-import is served without a restart;
// the access log records the TLS parameters.
func TestHTTPSListenerEndToEnd(t *testing.T) {
	const port = 18443
	w := newWorld(t, apptest.Options{})
	roots := caPool(t, w.s)
	orders, billing := newBackend(t, "orders"), newBackend(t, "billing")
	tgOrders, tgBilling := w.targetGroup("orders", nil, orders), w.targetGroup("billing", nil, billing)
	w.httpsListener(w.svc.Id, port, tgOrders.Id)
	billingSvc := w.associatedService("billing", "", "")
	w.httpsListener(billingSvc.Id, port, tgBilling.Id)
	// A service with an HTTPS listener on the port but in no network the
	// VPC reaches.
	hidden := need(w.c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("hidden")})).ok(t)
	w.httpsListener(hidden.Id, port, w.targetGroup("hidden", nil, billing).Id)

	// A custom domain with a certificate of the customer's CA, imported.
	acmC := acmClient(w.s)
	issuer1 := testIssuer(t)
	leaf1, err := issuer1.Issue("shop.example.com", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	imp := need(acmC.ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: leaf1.CertPEM, PrivateKey: leaf1.KeyPEM,
		CertificateChain: issuer1.CertPEM})).ok(t)
	shop := newBackend(t, "shop")
	shopSvc := w.associatedService("shop", "shop.example.com", aws.ToString(imp.CertificateArn))
	w.httpsListener(shopSvc.Id, port, w.targetGroup("shop", nil, shop).Id)

	acct := w.s.Account
	need(w.c.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: w.svc.Id,
		DestinationArn: aws.String("arn:aws:logs:us-east-1:" + acct + ":log-group:/lattice/https")})).ok(t)

	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	host := *w.svc.DnsEntry.DomainName
	billingHost := *billingSvc.DnsEntry.DomainName
	waitTLS(t, ingress, port, &tls.Config{RootCAs: roots, ServerName: host}).Close()

	t.Run("HTTP/1.1 by the generated name", func(t *testing.T) {
		c := waitTLS(t, ingress, port, &tls.Config{RootCAs: roots, ServerName: host})
		st := c.ConnectionState()
		c.Close()
		if len(st.VerifiedChains) != 1 || len(st.PeerCertificates) == 0 || st.PeerCertificates[0].VerifyHostname(host) != nil {
			t.Fatalf("the chain did not verify for %s: %d chains", host, len(st.VerifiedChains))
		}
		code, proto, body := do(t, httpsClient(ingress, port, roots, host, false), host, port, "/orders?id=1")
		if code != 200 || proto != "HTTP/1.1" || body != "orders" {
			t.Fatalf("%d %s %q", code, proto, body)
		}
		orders.mu.Lock()
		seen, seenHost := orders.last, orders.host
		orders.mu.Unlock()
		if seen.Get("X-Forwarded-Proto") != "https" || seen.Get("X-Forwarded-Port") != strconv.Itoa(port) {
			t.Errorf("forwarded headers %v", seen)
		}
		wantNet := "SourceVpcArn=arn:aws:ec2:us-east-1:" + acct + ":vpc/vpc-00000000000000001"
		if seen.Get("X-Amzn-Lattice-Network") != wantNet {
			t.Errorf("x-amzn-lattice-network %q", seen.Get("X-Amzn-Lattice-Network"))
		}
		if tgt := seen.Get("X-Amzn-Lattice-Target"); !strings.Contains(tgt, "ServiceArn="+*w.svc.Arn) ||
			!strings.Contains(tgt, "TargetGroupArn="+*tgOrders.Arn) {
			t.Errorf("x-amzn-lattice-target %q", tgt)
		}
		if !strings.HasPrefix(seenHost, host) {
			t.Errorf("target saw Host %q", seenHost)
		}
	})

	t.Run("HTTP/2 by ALPN", func(t *testing.T) {
		c := httpsClient(ingress, port, roots, host, true)
		for i := 0; i < 3; i++ { // one connection, several streams
			code, proto, body := do(t, c, host, port, "/h2")
			if code != 200 || proto != "HTTP/2.0" || body != "orders" {
				t.Fatalf("request %d: %d %s %q", i, code, proto, body)
			}
		}
		orders.mu.Lock()
		xfp := orders.last.Get("X-Forwarded-Proto")
		orders.mu.Unlock()
		if xfp != "https" {
			t.Fatalf("x-forwarded-proto %q", xfp)
		}
	})

	for _, tc := range []struct {
		name string
		cfg  *tls.Config
	}{
		// Dialing an IP address, Go sends no SNI.
		{"no SNI", &tls.Config{InsecureSkipVerify: true}},
		{"a name no reachable service has", &tls.Config{InsecureSkipVerify: true, ServerName: *hidden.DnsEntry.DomainName}},
		{"an unknown name", &tls.Config{InsecureSkipVerify: true, ServerName: "nothing.example.com"}},
		{"TLS 1.1", &tls.Config{RootCAs: roots, ServerName: host, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}},
	} {
		t.Run("handshake refused: "+tc.name, func(t *testing.T) {
			before := orders.hits.Load() + billing.hits.Load()
			c, err := tlsDial(ingress, port, tc.cfg)
			if err == nil {
				c.Close()
				t.Fatalf("handshake succeeded (%s)", tls.VersionName(c.ConnectionState().Version))
			}
			t.Logf("refused: %v", err)
			if after := orders.hits.Load() + billing.hits.Load(); after != before {
				t.Fatal("a target was reached")
			}
		})
	}

	t.Run("Host naming another service than SNI is 421", func(t *testing.T) {
		before := billing.hits.Load()
		for _, h2 := range []bool{false, true} {
			code, _, body := do(t, httpsClient(ingress, port, roots, host, h2), billingHost, port, "/")
			if code != http.StatusMisdirectedRequest {
				t.Fatalf("h2=%v: %d %q, want 421", h2, code, body)
			}
		}
		if billing.hits.Load() != before {
			t.Fatal("the misdirected request reached billing")
		}
		// The same name in SNI and Host is served.
		if code, _, body := do(t, httpsClient(ingress, port, roots, billingHost, true), billingHost, port, "/"); code != 200 || body != "billing" {
			t.Fatalf("billing by its own name: %d %q", code, body)
		}
	})

	t.Run("cleartext HTTP to the HTTPS port is 400", func(t *testing.T) {
		before := orders.hits.Load()
		code, body, _ := get(t, ingress, port, host, "/", nil)
		if code != http.StatusBadRequest || !strings.Contains(body, "TLS") {
			t.Fatalf("%d %q", code, body)
		}
		if orders.hits.Load() != before {
			t.Fatal("the cleartext request reached the target")
		}
	})

	t.Run("custom domain with an imported certificate, re-imported", func(t *testing.T) {
		const name = "shop.example.com"
		c := waitTLS(t, ingress, port, &tls.Config{RootCAs: issuer1.Pool(), ServerName: name})
		got := c.ConnectionState().PeerCertificates[0].SerialNumber.String()
		c.Close()
		if want := leafSerial(t, leaf1.CertPEM); got != want {
			t.Fatalf("served serial %s, want the imported %s", got, want)
		}
		if code, _, body := do(t, httpsClient(ingress, port, issuer1.Pool(), name, true), name, port, "/"); code != 200 || body != "shop" {
			t.Fatalf("GET via the custom domain: %d %q", code, body)
		}
		// The installation CA does not vouch for it.
		if c, err := tlsDial(ingress, port, &tls.Config{RootCAs: roots, ServerName: name}); err == nil {
			c.Close()
			t.Fatal("the imported certificate verified against the installation CA")
		}

		// A certificate in use is not deleted; a re-import that no longer
		// covers the domain is refused and the served one stays.
		if _, err := acmC.DeleteCertificate(ctx, &acm.DeleteCertificateInput{CertificateArn: imp.CertificateArn}); err == nil {
			t.Fatal("a certificate in use was deleted")
		}
		other, err := issuer1.Issue("other.example.com", nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := acmC.ImportCertificate(ctx, &acm.ImportCertificateInput{CertificateArn: imp.CertificateArn,
			Certificate: other.CertPEM, PrivateKey: other.KeyPEM, CertificateChain: issuer1.CertPEM}); err == nil {
			t.Fatal("a re-import for another name was accepted")
		}
		if c, err := tlsDial(ingress, port, &tls.Config{RootCAs: issuer1.Pool(), ServerName: name}); err != nil {
			t.Fatalf("after the refused changes: %v", err)
		} else {
			c.Close()
		}

		issuer2 := testIssuer(t)
		leaf2, err := issuer2.Issue(name, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		need(acmC.ImportCertificate(ctx, &acm.ImportCertificateInput{CertificateArn: imp.CertificateArn,
			Certificate: leaf2.CertPEM, PrivateKey: leaf2.KeyPEM, CertificateChain: issuer2.CertPEM})).ok(t)
		want2 := leafSerial(t, leaf2.CertPEM)
		eventually(t, 10*time.Second, "the re-imported certificate served", func() bool {
			c, err := tlsDial(ingress, port, &tls.Config{RootCAs: issuer2.Pool(), ServerName: name})
			if err != nil {
				return false
			}
			defer c.Close()
			return c.ConnectionState().PeerCertificates[0].SerialNumber.String() == want2
		})
		if c, err := tlsDial(ingress, port, &tls.Config{RootCAs: issuer1.Pool(), ServerName: name}); err == nil {
			c.Close()
			t.Fatal("the replaced certificate is still served")
		}
	})

	t.Run("Host and SNI naming the same service differently", func(t *testing.T) {
		// Lowercase SNI, Host in capitals; SNI the custom domain (no
		// certificateArn: an installation CA leaf), Host the generated name.
		for _, tc := range []struct{ sni, hostHeader string }{
			{host, strings.ToUpper(host) + ":" + strconv.Itoa(port)},
			{"orders.internal", host},
			{host, "Orders.Internal"},
		} {
			for _, h2 := range []bool{false, true} {
				req, _ := http.NewRequest("GET", fmt.Sprintf("https://%s:%d/same", tc.sni, port), nil)
				req.Host = tc.hostHeader
				resp, err := httpsClient(ingress, port, roots, tc.sni, h2).Do(req)
				if err != nil {
					t.Fatalf("SNI %s Host %s h2=%v: %v", tc.sni, tc.hostHeader, h2, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(b) != "orders" {
					t.Fatalf("SNI %s Host %s h2=%v: %d %q", tc.sni, tc.hostHeader, h2, resp.StatusCode, b)
				}
			}
		}
	})

	t.Run("a session ticket of one name does not resume another", func(t *testing.T) {
		// The client offers the ticket billing's handshake left for a
		// handshake naming orders (a cache handing out one session for
		// every name; verification is off, which alone lets Go's client
		// offer it). The server must not resume: the resumed session
		// would skip the certificate for the new name.
		cache := &oneSessionCache{}
		cfg := &tls.Config{InsecureSkipVerify: true, ServerName: billingHost, ClientSessionCache: cache}
		tr := &http.Transport{TLSClientConfig: cfg, DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort(ingress, strconv.Itoa(port)))
		}}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(fmt.Sprintf("https://%s:%d/", billingHost, port))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) // the TLS 1.3 ticket comes after the handshake
		resp.Body.Close()
		if !cache.has() {
			t.Fatal("no session ticket was issued")
		}
		// Sanity: the ticket resumes its own name.
		same := waitTLS(t, ingress, port, cfg)
		resumed := same.ConnectionState().DidResume
		same.Close()
		if !resumed {
			t.Fatal("the ticket did not resume the name it was issued for")
		}
		c, err := tlsDial(ingress, port, &tls.Config{InsecureSkipVerify: true, ServerName: host, ClientSessionCache: cache})
		if err != nil {
			t.Fatal(err)
		}
		st := c.ConnectionState()
		c.Close()
		if st.DidResume {
			t.Fatal("billing's ticket resumed a session for orders")
		}
		if st.PeerCertificates[0].VerifyHostname(host) != nil {
			t.Fatalf("certificate for %v", st.PeerCertificates[0].DNSNames)
		}
	})

	t.Run("TLS 1.2", func(t *testing.T) {
		c := waitTLS(t, ingress, port, &tls.Config{RootCAs: roots, ServerName: host, MaxVersion: tls.VersionTLS12})
		st := c.ConnectionState()
		c.Close()
		if st.Version != tls.VersionTLS12 {
			t.Fatalf("negotiated %s", tls.VersionName(st.Version))
		}
		t.Logf("TLS 1.2 cipher: %s", tls.CipherSuiteName(st.CipherSuite))
	})

	t.Run("cleartext HTTP/2 (prior knowledge) to the HTTPS port is 400", func(t *testing.T) {
		protos := new(http.Protocols)
		protos.SetUnencryptedHTTP2(true)
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Protocols: protos}}
		before := orders.hits.Load()
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s:%d/h2c", ingress, port), nil)
		req.Host = host
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Proto != "HTTP/2.0" {
			t.Fatalf("%d %s", resp.StatusCode, resp.Proto)
		}
		if orders.hits.Load() != before {
			t.Fatal("the cleartext request reached the target")
		}
	})

	t.Run("access log records the TLS parameters", func(t *testing.T) {
		if code, _, _ := do(t, httpsClient(ingress, port, roots, host, true), host, port, "/logged-h2"); code != 200 {
			t.Fatal(code)
		}
		tls12 := httpsClient(ingress, port, roots, host, false)
		tls12.Transport.(*http.Transport).TLSClientConfig.MaxVersion = tls.VersionTLS12
		if code, _, _ := do(t, tls12, host, port, "/logged-tls12"); code != 200 {
			t.Fatal(code)
		}
		glob := filepath.Join(w.s.DataDir, "accesslogs", "cloudwatch", acct, "us-east-1", "%2Flattice%2Fhttps", *w.svc.Id+".log")
		var recs []map[string]any
		eventually(t, 5*time.Second, "the records", func() bool {
			recs = readJSONLines(t, glob)
			return byPath(recs, "/logged-h2") != nil && byPath(recs, "/logged-tls12") != nil
		})
		for _, tc := range []struct {
			path                      string
			version, cipher, protocol string
		}{
			{"/logged-h2", "TLSv1.3", "TLS_AES_128_GCM_SHA256", "HTTP/2"},
			{"/logged-tls12", "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256", "HTTP/1.1"},
		} {
			t.Run(tc.path, func(t *testing.T) {
				r := byPath(recs, tc.path)
				for k, want := range map[string]any{
					"serverNameIndication": host,
					"tlsVersion":           tc.version,
					"sslCipher":            tc.cipher,
					"listenerType":         "HTTPS",
					"protocol":             tc.protocol,
					"responseCode":         float64(200),
				} {
					if r[k] != want {
						t.Errorf("%s = %v, want %v (record %v)", k, r[k], want, r)
					}
				}
			})
		}
	})

	t.Run("a service that leaves the network: no handshake, no resumption, no request on an open connection", func(t *testing.T) {
		tr := httpsClient(ingress, port, roots, billingHost, true)
		tr.Transport.(*http.Transport).TLSClientConfig.ClientSessionCache = tls.NewLRUClientSessionCache(8)
		send := func() (*http.Response, error) {
			req, _ := http.NewRequest("GET", fmt.Sprintf("https://%s:%d/leaving", billingHost, port), nil)
			resp, err := tr.Do(req)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			return resp, err
		}
		if resp, err := send(); err != nil || resp.StatusCode != 200 {
			t.Fatalf("before: %v", err)
		}
		tr.CloseIdleConnections()
		resp, err := send()
		if err != nil || resp.StatusCode != 200 || !resp.TLS.DidResume {
			t.Fatalf("second connection: %v (resumed: %v)", err, err == nil && resp.TLS.DidResume)
		}
		// This connection stays open while the service leaves.
		open := httpsClient(ingress, port, roots, billingHost, true)
		if code, _, _ := do(t, open, billingHost, port, "/"); code != 200 {
			t.Fatal(code)
		}
		list := need(w.c.ListServiceNetworkServiceAssociations(ctx, &vpclattice.ListServiceNetworkServiceAssociationsInput{ServiceIdentifier: billingSvc.Id})).ok(t)
		need(w.c.DeleteServiceNetworkServiceAssociation(ctx, &vpclattice.DeleteServiceNetworkServiceAssociationInput{
			ServiceNetworkServiceAssociationIdentifier: list.Items[0].Id})).ok(t)
		eventually(t, 5*time.Second, "new connections refused", func() bool {
			tr.CloseIdleConnections()
			_, err := send()
			return err != nil
		})
		// (Until the change is in force, the polls above reach billing.)
		before := billing.hits.Load()
		if code, _, body := do(t, open, billingHost, port, "/"); code != http.StatusNotFound {
			t.Fatalf("on the connection opened before: %d %q, want 404", code, body)
		}
		if billing.hits.Load() != before {
			t.Fatal("billing was reached after it left the network")
		}
	})
}

// oneSessionCache keeps the last session stored and offers it for every
// server name.
type oneSessionCache struct {
	mu sync.Mutex
	cs *tls.ClientSessionState
}

func (c *oneSessionCache) Get(string) (*tls.ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cs, c.cs != nil
}

func (c *oneSessionCache) Put(_ string, cs *tls.ClientSessionState) {
	if cs == nil {
		return
	}
	c.mu.Lock()
	c.cs = cs
	c.mu.Unlock()
}

func (c *oneSessionCache) has() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cs != nil
}

// TestHTTPSLargeBodies: 4 MiB up and 4 MiB down over an HTTPS listener,
// HTTP/1.1 and HTTP/2 (flow control from the client's TLS connection to
// the HTTP/1.1 target and back), bytes intact.
func TestHTTPSLargeBodies(t *testing.T) {
	const port = 18450
	const size = 4 << 20
	w := newWorld(t, apptest.Options{})
	tgt := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			h := sha256.New()
			n, err := io.Copy(h, r.Body)
			if err != nil {
				http.Error(rw, err.Error(), 500)
				return
			}
			fmt.Fprintf(rw, "%d %x", n, h.Sum(nil))
			return
		}
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
		for sent := 0; sent < size; sent += len(chunk) {
			if _, err := rw.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(tgt.Close)
	tg := need(w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("big"), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp,
			VpcIdentifier: aws.String("vpc-0000000000000000f")}})).ok(t)
	need(w.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id,
		Targets: []types.Target{{Id: aws.String("127.0.0.1"), Port: aws.Int32(int32(tgt.Listener.Addr().(*net.TCPAddr).Port))}}})).ok(t)
	w.httpsListener(w.svc.Id, port, tg.Id)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	roots := caPool(t, w.s)
	host := *w.svc.DnsEntry.DomainName
	waitTLS(t, ingress, port, &tls.Config{RootCAs: roots, ServerName: host}).Close()

	up := make([]byte, size)
	if _, err := rand.Read(up); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(up)
	want := fmt.Sprintf("%d %x", size, sum)
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			c := httpsClient(ingress, port, roots, host, h2)
			c.Timeout = 30 * time.Second
			resp, err := c.Post(fmt.Sprintf("https://%s:%d/up", host, port), "application/octet-stream", bytes.NewReader(up))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(got) != want {
				t.Fatalf("upload: %d %q, want %q", resp.StatusCode, got, want)
			}
			resp, err = c.Get(fmt.Sprintf("https://%s:%d/down", host, port))
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || n != size || (h2 && resp.Proto != "HTTP/2.0") {
				t.Fatalf("download: %d bytes, %v, %s", n, err, resp.Proto)
			}
		})
	}
}
