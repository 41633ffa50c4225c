package tlsterm

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/ca"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// The world of the tests: VPC vpc-1 reaches services a and b through its
// network, VPC vpc-2 reaches service c. Service a has an ACM certificate
// (from another CA, "public") for its custom domain; b has a custom domain
// and no certificate; r has an RSA certificate; c is only in vpc-2's
// network. Every service has an HTTPS listener on 443 and an HTTP one on 80.
const (
	vpc1, vpc2 = "vpc-1", "vpc-2"
	nameA      = "svc-a-0123.7d67968.vpc-lattice-svcs.us-east-1.on.aws"
	domainA    = "a.example.com"
	nameB      = "svc-b-0123.7d67968.vpc-lattice-svcs.us-east-1.on.aws"
	domainB    = "b.example.com"
	domainR    = "r.example.com"
	nameC      = "svc-c-0123.7d67968.vpc-lattice-svcs.us-east-1.on.aws"
	arnA       = "arn:aws:acm:us-east-1:111122223333:certificate/aaaaaaaa-0000-0000-0000-000000000001"
	arnR       = "arn:aws:acm:us-east-1:111122223333:certificate/aaaaaaaa-0000-0000-0000-000000000002"
)

type world struct {
	ca, public *ca.CA
	holder     *snapshot.Holder
	certA      *tls.Certificate // the imported certificate of domainA
	certR      *tls.Certificate // RSA, for domainR
	logs       *syncBuffer
	term       *Terminator
}

func newCA(t testing.TB) *ca.CA {
	t.Helper()
	c, _, _, err := ca.Load(t.TempDir(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// imported makes what ACM ImportCertificate would hold for names, signed by
// issuer, parsed as the snapshot parses it.
func imported(t testing.TB, issuer *ca.CA, names ...string) *tls.Certificate {
	t.Helper()
	l, err := issuer.Issue(names[0], names[1:], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(append(l.CertPEM, l.ChainPEM...), l.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &pair
}

// rsaCert makes an RSA-2048 leaf for name signed by issuer (crypto/x509:
// the CA issues ECDSA keys only).
func rsaCert(t testing.TB, issuer *ca.CA, name string) *tls.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer.Cert, &key.PublicKey, issuer.Key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
	if err != nil {
		t.Fatal(err)
	}
	return &pair
}

func listeners() map[int]*snapshot.Listener {
	return map[int]*snapshot.Listener{
		443: {ID: "listener-https", Protocol: "HTTPS", Port: 443},
		80:  {ID: "listener-http", Protocol: "HTTP", Port: 80},
	}
}

// snap builds a snapshot by hand, as Compile would with each service's
// certificateArn copied into Service.CertificateARN.
func snap(certs map[string]*tls.Certificate) *snapshot.Snapshot {
	a := &snapshot.Service{ID: "svc-a", DNSName: nameA, CustomDomain: domainA, CertificateARN: arnA, Listeners: listeners()}
	b := &snapshot.Service{ID: "svc-b", DNSName: nameB, CustomDomain: domainB, Listeners: listeners()}
	r := &snapshot.Service{ID: "svc-r", CustomDomain: domainR, CertificateARN: arnR, Listeners: listeners()}
	c := &snapshot.Service{ID: "svc-c", DNSName: nameC, Listeners: listeners()}
	s := &snapshot.Snapshot{
		VPCs: map[string]*snapshot.VPC{
			vpc1: {ID: vpc1, Hosts: snapshot.TableOf(map[string]*snapshot.Service{nameA: a, domainA: a, nameB: b, domainB: b, domainR: r})},
			vpc2: {ID: vpc2, Hosts: snapshot.TableOf(map[string]*snapshot.Service{nameC: c})},
		},
		ServiceNames: snapshot.TableOf(map[string]*snapshot.Service{nameA + ".": a, domainA + ".": a, nameB + ".": b, domainB + ".": b, domainR + ".": r, nameC + ".": c}),
		Certificates: certs,
	}
	return s
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newWorld(t testing.TB, now func() time.Time) *world {
	t.Helper()
	w := &world{ca: newCA(t), public: newCA(t), holder: &snapshot.Holder{}, logs: &syncBuffer{}}
	w.certA = imported(t, w.public, domainA)
	w.certR = rsaCert(t, w.public, domainR)
	w.holder.Store(snap(map[string]*tls.Certificate{arnA: w.certA, arnR: w.certR}))
	w.term = New(Config{Holder: w.holder, CA: w.ca, Now: now, Logger: slog.New(slog.NewTextHandler(w.logs, nil))})
	return w
}

// serve runs a TLS listener on loopback with the Terminator's config for
// (vpcID, port): each connection finishes its handshake, writes one byte
// (so a TLS 1.3 client reads its session tickets) and is closed. It
// returns the address.
func serve(t testing.TB, term *Terminator, vpcID string, port int) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", term.Config(vpcID, port))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if c.(*tls.Conn).Handshake() != nil {
					return
				}
				c.Write([]byte{'x'})
				c.Read(make([]byte, 1)) // until the client closes
			}()
		}
	}()
	return ln.Addr().String()
}

// dial makes one TLS connection and returns its state.
func dial(addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != nil {
		return tls.ConnectionState{}, err
	}
	return c.ConnectionState(), nil
}

func pool(cas ...*ca.CA) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range cas {
		p.AddCert(c.Cert)
	}
	return p
}
