package tlsterm

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// TestCertificateChoice: each name gets the certificate Lattice (or
// Trellis's convenience) gives it, verified by a Go client against the
// issuer the client is told to trust.
func TestCertificateChoice(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	addr := serve(t, w.term, vpc1, 443)
	cases := []struct {
		name       string
		serverName string
		roots      *x509.CertPool
		wantSerial func() string // "" : any certificate the roots verify
	}{
		{"generated name, installation CA", nameA, pool(w.ca), nil},
		{"generated name in upper case", strings.ToUpper(nameB), pool(w.ca), nil},
		{"custom domain, imported ACM certificate", domainA, pool(w.public), func() string { return w.certA.Leaf.SerialNumber.String() }},
		{"custom domain without certificateArn, installation CA", domainB, pool(w.ca), nil},
		{"custom domain, RSA certificate", domainR, pool(w.public), func() string { return w.certR.Leaf.SerialNumber.String() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := dial(addr, &tls.Config{ServerName: tc.serverName, RootCAs: tc.roots})
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			leaf := st.PeerCertificates[0]
			if tc.wantSerial != nil && leaf.SerialNumber.String() != tc.wantSerial() {
				t.Errorf("served serial %s, want %s", leaf.SerialNumber, tc.wantSerial())
			}
			if err := leaf.VerifyHostname(tc.serverName); err != nil {
				t.Error(err)
			}
			// The installation CA's names are not trusted for the imported one.
			if tc.roots != nil && tc.wantSerial != nil {
				if _, err := dial(addr, &tls.Config{ServerName: tc.serverName, RootCAs: pool(w.ca)}); err == nil {
					t.Error("an imported certificate verified against the installation CA")
				}
			}
		})
	}
	t.Run("a service of vpc-2's network, on vpc-2's socket", func(t *testing.T) {
		if _, err := dial(serve(t, w.term, vpc2, 443), &tls.Config{ServerName: nameC, RootCAs: pool(w.ca)}); err != nil {
			t.Fatal(err)
		}
		if _, err := dial(serve(t, w.term, vpc2, 443), &tls.Config{ServerName: nameA, RootCAs: pool(w.ca)}); err == nil {
			t.Fatal("vpc-2's socket served vpc-1's service")
		}
	})
	// One leaf per generated or CA-served name, issued once.
	if n := w.term.cachedLeaves(); n != 4 {
		t.Errorf("%d leaves cached, want 4 (nameA, nameB, domainB, nameC)", n)
	}
}

// TestRefused: handshakes that must not finish, and the alert they get.
func TestRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	on443 := serve(t, w.term, vpc1, 443)
	on80 := serve(t, w.term, vpc1, 80)
	onUnknownVPC := serve(t, w.term, "vpc-unknown", 443)
	cases := []struct {
		name       string
		addr       string
		serverName string
		mod        func(*tls.Config)
		want       string
	}{
		// A Go client sends no SNI for an IP address.
		{"no SNI", on443, "", nil, "unrecognized name"},
		{"unknown name", on443, "nothing.example.com", nil, "unrecognized name"},
		{"service of another VPC's network", on443, nameC, nil, "unrecognized name"},
		{"port with an HTTP listener only", on80, nameA, nil, "unrecognized name"},
		{"VPC not in the snapshot", onUnknownVPC, nameA, nil, "unrecognized name"},
		{"TLS 1.1 client", on443, nameA, func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 }, "protocol version"},
		{"RSA key exchange only", on443, domainR, func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_128_CBC_SHA}
		}, "handshake failure"},
		{"ALPN without h2 or http/1.1", on443, nameA, func(c *tls.Config) { c.NextProtos = []string{"spdy/3"} }, "no application protocol"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &tls.Config{ServerName: tc.serverName, InsecureSkipVerify: true}
			if tc.mod != nil {
				tc.mod(cfg)
			}
			_, err := dial(tc.addr, cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("handshake error %v, want one with %q", err, tc.want)
			}
		})
	}
	if s := w.logs.String(); s != "" {
		t.Errorf("client errors were logged:\n%s", s)
	}
}

// TestUnusableCertificate: the certificate chosen for a name is missing,
// does not cover it, or is out of its validity: the handshake fails, and
// it is logged once per name and reason.
func TestUnusableCertificate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		certs func(w *world) map[string]*tls.Certificate
		now   time.Duration // added to the clock
		sni   string
		log   string
	}{
		{"certificate deleted", func(w *world) map[string]*tls.Certificate { return map[string]*tls.Certificate{} }, 0, domainA, "not usable"},
		{"certificate of another name", func(w *world) map[string]*tls.Certificate {
			return map[string]*tls.Certificate{arnA: imported(t, w.public, "other.example.com")}
		}, 0, domainA, "does not cover"},
		{"expired", nil, 400 * 24 * time.Hour, domainA, "expired"},
		{"not valid yet", nil, -2 * time.Hour, domainA, "not valid yet"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var off atomic.Int64
			w := newWorld(t, func() time.Time { return time.Now().Add(time.Duration(off.Load())) })
			if tc.certs != nil {
				s := *w.holder.Load()
				s.Certificates = tc.certs(w)
				w.holder.Store(&s)
			}
			off.Store(int64(tc.now))
			addr := serve(t, w.term, vpc1, 443)
			for range 3 {
				_, err := dial(addr, &tls.Config{ServerName: tc.sni, InsecureSkipVerify: true})
				if err == nil || !strings.Contains(err.Error(), "internal error") {
					t.Fatalf("handshake error %v, want an internal_error alert", err)
				}
			}
			logs := w.logs.String()
			if n := strings.Count(logs, "HTTPS handshake refused"); n != 1 || !strings.Contains(logs, tc.log) || !strings.Contains(logs, tc.sni) {
				t.Errorf("want one log line naming %s and %q; got:\n%s", tc.sni, tc.log, logs)
			}
			// Mended: served again, and a new failure would be logged again.
			w.holder.Store(snap(map[string]*tls.Certificate{arnA: w.certA}))
			off.Store(0)
			if _, err := dial(addr, &tls.Config{ServerName: tc.sni, RootCAs: pool(w.public)}); err != nil {
				t.Fatalf("after the fix: %v", err)
			}
			if !strings.Contains(w.logs.String(), "served again") {
				t.Errorf("recovery not logged:\n%s", w.logs.String())
			}
		})
	}
}

// TestRotation: a re-imported certificate (same ARN, new key pair) is
// served from the next handshake on, on the same socket.
func TestRotation(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	addr := serve(t, w.term, vpc1, 443)
	cfg := &tls.Config{ServerName: domainA, RootCAs: pool(w.public)}
	st, err := dial(addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.PeerCertificates[0].SerialNumber; got.Cmp(w.certA.Leaf.SerialNumber) != 0 {
		t.Fatalf("served %s before the rotation, want %s", got, w.certA.Leaf.SerialNumber)
	}
	next := imported(t, w.public, domainA)
	w.holder.Store(snap(map[string]*tls.Certificate{arnA: next}))
	st, err = dial(addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.PeerCertificates[0].SerialNumber; got.Cmp(next.Leaf.SerialNumber) != 0 {
		t.Errorf("served %s after the rotation, want the new %s", got, next.Leaf.SerialNumber)
	}
}

// TestPolicy: versions, ALPN and cipher suites negotiated.
func TestPolicy(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	addr := serve(t, w.term, vpc1, 443)
	cases := []struct {
		name       string
		serverName string
		mod        func(*tls.Config)
		version    uint16
		alpn       string
		suite      uint16 // 0: any
	}{
		{"default client", nameA, nil, tls.VersionTLS13, "", 0},
		{"h2 preferred", nameA, func(c *tls.Config) { c.NextProtos = []string{"http/1.1", "h2"} }, tls.VersionTLS13, "h2", 0},
		{"http/1.1 only", nameA, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }, tls.VersionTLS13, "http/1.1", 0},
		{"h2 only", nameA, func(c *tls.Config) { c.NextProtos = []string{"h2"} }, tls.VersionTLS13, "h2", 0},
		{"TLS 1.2", nameA, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }, tls.VersionTLS12, "", 0},
	}
	for _, s := range cipherSuites {
		rsa := strings.Contains(CipherName(s), "-RSA-")
		sni := nameA
		if rsa {
			sni = domainR
		}
		cases = append(cases, struct {
			name       string
			serverName string
			mod        func(*tls.Config)
			version    uint16
			alpn       string
			suite      uint16
		}{"TLS 1.2 " + CipherName(s), sni, func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{s}
		}, tls.VersionTLS12, "", s})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &tls.Config{ServerName: tc.serverName, RootCAs: pool(w.ca, w.public)}
			if tc.mod != nil {
				tc.mod(cfg)
			}
			st, err := dial(addr, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if st.Version != tc.version || st.NegotiatedProtocol != tc.alpn || (tc.suite != 0 && st.CipherSuite != tc.suite) {
				t.Errorf("got %s %q %s, want %s %q %s", VersionName(st.Version), st.NegotiatedProtocol, CipherName(st.CipherSuite),
					VersionName(tc.version), tc.alpn, CipherName(tc.suite))
			}
			if CipherName(st.CipherSuite) == "" {
				t.Errorf("negotiated suite %#x has no name", st.CipherSuite)
			}
		})
	}
}

// TestRSAKeyExchangeListedIsEnabled pins the Go behaviour behind leaving
// Lattice's RSA key exchange suites out of cipherSuites: Go disables them
// by default (GODEBUG tlsrsakex), yet naming them in Config.CipherSuites
// enables them.
func TestRSAKeyExchangeListedIsEnabled(t *testing.T) {
	t.Parallel()
	w := newWorld(t, nil)
	rsaOnly := []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}
	for _, tc := range []struct {
		name   string
		listed []uint16
		ok     bool
	}{{"default list", nil, false}, {"named in CipherSuites", rsaOnly, true}} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{*w.certR}, CipherSuites: tc.listed, MaxVersion: tls.VersionTLS12})
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err == nil {
					c.(*tls.Conn).Handshake()
					c.Close()
				}
			}()
			c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: domainR, RootCAs: pool(w.public), CipherSuites: rsaOnly, MaxVersion: tls.VersionTLS12})
			if err == nil {
				c.Close()
			}
			if (err == nil) != tc.ok {
				t.Errorf("handshake error %v, want success %v", err, tc.ok)
			}
		})
	}
}

// sameSession is a client session cache that offers one session for every
// server name: what a client trying to reuse a ticket across names does.
type sameSession struct {
	mu sync.Mutex
	cs *tls.ClientSessionState
}

func (s *sameSession) Get(string) (*tls.ClientSessionState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cs, s.cs != nil
}

func (s *sameSession) Put(_ string, cs *tls.ClientSessionState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cs == nil && cs != nil {
		s.cs = cs
	}
}

// TestResumption: session tickets resume a session on the same socket for
// the same name, and never for another name, another socket, or a name no
// longer served.
func TestResumption(t *testing.T) {
	t.Parallel()
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(VersionName(v), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, nil)
			addr := serve(t, w.term, vpc1, 443)
			other := serve(t, w.term, vpc1, 443) // another socket: its own ticket keys
			roots := pool(w.ca)

			cache := tls.NewLRUClientSessionCache(8)
			cfg := &tls.Config{ServerName: nameA, RootCAs: roots, ClientSessionCache: cache, MaxVersion: v}
			for i, want := range []bool{false, true, true} {
				st, err := dial(addr, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if st.DidResume != want {
					t.Fatalf("handshake %d: resumed %v, want %v", i, st.DidResume, want)
				}
			}

			// Another socket has its own ticket keys (a cache of its own, so
			// that cfg's keeps addr's ticket).
			otherCfg := cfg.Clone()
			otherCfg.ClientSessionCache = &sameSession{}
			if st, err := dial(addr, otherCfg); err != nil || st.DidResume {
				t.Fatalf("first handshake: resumed %v, error %v", st.DidResume, err)
			}
			if st, err := dial(other, otherCfg); err != nil || st.DidResume {
				t.Errorf("another socket: resumed %v (error %v), want a full handshake", st.DidResume, err)
			}

			// A ticket of nameA offered for nameB. A verifying Go client never
			// offers it (it checks the session's certificate against the
			// name), so the client here skips verification, as an attacker's
			// would.
			same := &sameSession{}
			insecure := &tls.Config{ServerName: nameA, InsecureSkipVerify: true, ClientSessionCache: same, MaxVersion: v}
			if _, err := dial(addr, insecure); err != nil {
				t.Fatal(err)
			}
			insecure.ServerName = nameA
			if st, err := dial(addr, insecure); err != nil || !st.DidResume {
				t.Fatalf("the shared session does not resume for its own name: resumed %v, error %v", st.DidResume, err)
			}
			insecure.ServerName = nameB
			if st, err := dial(addr, insecure); err != nil || st.DidResume {
				t.Errorf("a ticket of %s offered for %s: resumed %v (error %v), want a full handshake", nameA, nameB, st.DidResume, err)
			}

			// Service a goes away: its ticket no longer resumes, and the full
			// handshake fails for the unknown name.
			if st, err := dial(addr, cfg); err != nil || !st.DidResume {
				t.Fatalf("before the removal: resumed %v, error %v", st.DidResume, err)
			}
			s := snap(map[string]*tls.Certificate{arnA: w.certA})
			hosts := s.VPCs[vpc1].Hosts.Edit()
			hosts.Delete(nameA)
			s.VPCs[vpc1].Hosts = hosts.Table()
			w.holder.Store(s)
			if _, err := dial(addr, cfg); err == nil || !strings.Contains(err.Error(), "unrecognized name") {
				t.Errorf("a ticket of a removed service: error %v, want unrecognized name", err)
			}
		})
	}
}

// TestLeafCache: concurrent handshakes of one name share one issuance; the
// leaves of names gone from the snapshot are dropped; a leaf past its
// renewal time is still served while its successor is issued; a new CA
// means a new leaf at once.
func TestLeafCache(t *testing.T) {
	t.Parallel()
	var off atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(off.Load())) }
	w := newWorld(t, clock)
	addr := serve(t, w.term, vpc1, 443)
	// The client's clock is the server's: a renewed leaf starts in the
	// server's future.
	serial := func(name string, roots *x509.CertPool) string {
		t.Helper()
		st, err := dial(addr, &tls.Config{ServerName: name, RootCAs: roots, Time: clock})
		if err != nil {
			t.Fatal(err)
		}
		return st.PeerCertificates[0].SerialNumber.String()
	}

	var wg sync.WaitGroup
	serials := make([]string, 16)
	errs := make([]error, len(serials))
	for i := range serials {
		wg.Go(func() {
			st, err := dial(addr, &tls.Config{ServerName: nameA, RootCAs: pool(w.ca)})
			errs[i] = err
			if err == nil {
				serials[i] = st.PeerCertificates[0].SerialNumber.String()
			}
		})
	}
	wg.Wait()
	for i := range serials {
		if errs[i] != nil || serials[i] != serials[0] {
			t.Fatalf("concurrent handshake %d: serial %s error %v, want one issuance (serial %s)", i, serials[i], errs[i], serials[0])
		}
	}
	first := serials[0]

	// Renewal: past two thirds of its life the leaf is still served, and a
	// successor replaces it in the background.
	off.Store(int64(300 * 24 * time.Hour))
	if got := serial(nameA, pool(w.ca)); got != first {
		t.Errorf("at renewal time the handshake got %s, want the current leaf %s while the next is issued", got, first)
	}
	renewed := ""
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got := serial(nameA, pool(w.ca)); got != first {
			renewed = got
			break
		}
	}
	if renewed == "" {
		t.Fatal("the leaf was never renewed")
	}
	off.Store(0)

	// Another CA: a new leaf at once, from the new CA.
	next := newCA(t)
	w.term.SetCA(next)
	if got := serial(nameA, pool(next)); got == renewed {
		t.Error("a new CA still served the old CA's leaf")
	}

	// Prune: the services go away; the next snapshot drops their leaves.
	serial(nameB, pool(next))
	if n := w.term.cachedLeaves(); n != 2 {
		t.Fatalf("%d leaves cached, want 2", n)
	}
	s := snap(map[string]*tls.Certificate{arnA: w.certA})
	hosts, names := s.VPCs[vpc1].Hosts.Edit(), s.ServiceNames.Edit()
	for _, n := range []string{nameA, domainA, nameB, domainB} {
		hosts.Delete(n)
		names.Delete(n + ".")
	}
	const nameD = "svc-d-0123.7d67968.vpc-lattice-svcs.us-east-1.on.aws"
	d := &snapshot.Service{ID: "svc-d", DNSName: nameD, Listeners: listeners()}
	hosts.Set(nameD, d)
	names.Set(nameD+".", d)
	s.VPCs[vpc1].Hosts, s.ServiceNames = hosts.Table(), names.Table()
	w.holder.Store(s)
	if _, err := dial(addr, &tls.Config{ServerName: domainB, InsecureSkipVerify: true}); err == nil {
		t.Fatal("domainB still served after its service went away")
	}
	serial(nameD, pool(next)) // a handshake that reaches the cache prunes it
	if n := w.term.cachedLeaves(); n != 1 {
		t.Errorf("%d leaves cached after services a and b went away, want 1 (nameD)", n)
	}
}

// TestCertificateChoiceAllocs: choosing the certificate of a known name
// (leaf cached, or an ACM certificate) does not allocate.
func TestCertificateChoiceAllocs(t *testing.T) {
	w := newWorld(t, nil)
	for _, name := range []string{nameA, domainA, domainB} {
		hello := &tls.ClientHelloInfo{ServerName: name}
		if c, err := w.term.certificate(hello, vpc1, 443); c == nil || err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n := testing.AllocsPerRun(100, func() { w.term.certificate(hello, vpc1, 443) }); n != 0 {
			t.Errorf("%s: %v allocations per choice", name, n)
		}
	}
}
