package passthrough

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
	"github.com/trellis-net/trellis/internal/dataplane/tlspeek"
	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/snapshot"
)

const (
	region  = "us-east-1"
	account = "111122223333"
	domain  = "svc.example.com"
	lstPort = 443
)

func latticeARN(kind, id string) string {
	return "arn:aws:vpc-lattice:" + region + ":" + account + ":" + kind + "/" + id
}

// pki is a CA and the leaves it signed, one per target name.
type pki struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	pool *x509.CertPool
}

func newPKI(t testing.TB) *pki {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &pki{key: key, cert: cert, pool: pool}
}

var serial atomic.Int64

// leaf is a certificate for domain whose subject CN is who: the client
// learns from it which target answered.
func (p *pki) leaf(t testing.TB, who string) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1) + 1), Subject: pkix.Name{CommonName: who},
		DNSNames: []string{domain}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// target is a real TLS server on loopback. Every connection runs handle
// (echo of what the client sends, then its name, by default).
type target struct {
	name     string
	addr     netip.AddrPort
	accepted atomic.Int64
	handle   func(raw net.Conn, c *tls.Conn)
}

func startTarget(t *testing.T, p *pki, name string) *target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tg := &target{name: name, addr: ln.Addr().(*net.TCPAddr).AddrPort()}
	tg.handle = func(_ net.Conn, c *tls.Conn) {
		msg, _ := io.ReadAll(c)
		c.Write(append(msg, " from "+name...))
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{p.leaf(t, name)}}
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
			tg.accepted.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				tc := tls.Server(c, cfg)
				if tc.Handshake() != nil {
					return
				}
				tg.handle(c, tc)
				tc.Close()
			}()
		}
	}()
	return tg
}

// deadAddr is a loopback address where nothing listens.
func deadAddr(t *testing.T) netip.AddrPort {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().(*net.TCPAddr).AddrPort()
	ln.Close()
	return a
}

func targetGroup(id string, addrs ...netip.AddrPort) *snapshot.TargetGroup {
	tg := &snapshot.TargetGroup{
		ID: id, ARN: latticeARN("targetgroup", id), Name: id, Account: account,
		Type: "IP", Protocol: "TCP", Port: 443, VpcID: "vpc-0000000000000000f", InUse: true,
	}
	for _, ap := range addrs {
		tg.Targets = append(tg.Targets, &snapshot.Target{
			ID: ap.Addr().String(), Port: int(ap.Port()), Addr: ap,
			Key: upstream.TargetKey(id, ap.Addr().String(), int(ap.Port())),
		})
	}
	return tg
}

type weighted struct {
	tg *snapshot.TargetGroup
	w  int
}

var (
	snSub  = &snapshot.LogSubscription{ID: "sn-sub", DestinationARN: "arn:aws:logs:us-east-1:111122223333:log-group:sn"}
	svcSub = &snapshot.LogSubscription{ID: "svc-sub", DestinationARN: "arn:aws:logs:us-east-1:111122223333:log-group:svc"}
)

// fixture is a snapshot with one client VPC reaching one service whose
// custom domain is domain, with a listener of protocol proto on lstPort
// forwarding to ws.
func fixture(proto string, ws ...weighted) *snapshot.Snapshot {
	var a snapshot.Action
	for _, x := range ws {
		a.TotalWeight += x.w
		a.Forward = append(a.Forward, snapshot.WeightedTargetGroup{TargetGroup: x.tg, Weight: x.w, Cumulative: a.TotalWeight})
	}
	lst := &snapshot.Listener{ID: "listener-1", ARN: latticeARN("listener", "listener-1"), Protocol: proto, Port: lstPort,
		Rules: []*snapshot.Rule{{ID: "default", IsDefault: true, Action: a}}}
	svc := &snapshot.Service{
		ID: "svc-1", ARN: latticeARN("service", "svc-1"), Name: "svc", Account: account,
		DNSName: "svc-1-0a1b2c3d4e5f.7d67968.vpc-lattice-svcs." + region + ".on.aws", CustomDomain: domain,
		AuthType: "NONE", AccessLogs: []*snapshot.LogSubscription{svcSub},
		Listeners: map[int]*snapshot.Listener{lstPort: lst},
	}
	sn := &snapshot.ServiceNetwork{ID: "sn-1", ARN: latticeARN("servicenetwork", "sn-1"), AuthType: "NONE",
		AccessLogs: []*snapshot.LogSubscription{snSub}}
	vpc := &snapshot.VPC{
		ID: "vpc-00000000000000001", ARN: "arn:aws:ec2:" + region + ":" + account + ":vpc/vpc-00000000000000001",
		Account: account, Mode: "host", Ingress: netip.MustParseAddr("127.0.0.1"), ServiceNetwork: sn,
		Hosts: snapshot.TableOf(map[string]*snapshot.Service{domain: svc, svc.DNSName: svc}),
	}
	s := &snapshot.Snapshot{Revision: 1, Region: region,
		VPCs: map[string]*snapshot.VPC{vpc.ID: vpc}}
	e := s.TargetGroups.Edit()
	for _, x := range ws {
		e.Set(x.tg.ID, x.tg)
	}
	s.TargetGroups = e.Table()
	return s
}

// record is one access log call.
type record struct {
	e               accesslog.Entry
	svcSubs, snSubs []*snapshot.LogSubscription
}

type recorder struct {
	mu   sync.Mutex
	recs []record
	got  chan struct{}
	// tapped is the ARN someone taps (Tapped).
	tapped atomic.Pointer[string]
}

func newRecorder() *recorder { return &recorder{got: make(chan struct{}, 1000)} }

func (r *recorder) Log(e *accesslog.Entry, svcSubs, snSubs []*snapshot.LogSubscription) {
	r.mu.Lock()
	r.recs = append(r.recs, record{*e, svcSubs, snSubs})
	r.mu.Unlock()
	r.got <- struct{}{}
}

func (r *recorder) Tapped(svcARN, snARN string) bool {
	p := r.tapped.Load()
	return p != nil && (svcARN == *p || snARN == *p)
}

// next waits for the next record.
func (r *recorder) next(t *testing.T) record {
	t.Helper()
	select {
	case <-r.got:
	case <-time.After(20 * time.Second):
		t.Fatal("no access log record")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.recs[0]
	r.recs = r.recs[1:]
	return rec
}

// env is a passthrough Proxy behind a tiny ingress: a loopback listener
// whose connections are peeked and handed to ServeConn.
type env struct {
	addr string
	p    *Proxy
	reg  *upstream.Registry
	log  *recorder
}

func newEnv(t *testing.T, snap *snapshot.Snapshot, tweak func(*Config)) *env {
	t.Helper()
	h := &snapshot.Holder{}
	h.Store(snap)
	reg := &upstream.Registry{}
	rec := newRecorder()
	cfg := Config{Holder: h, Picker: &upstream.Picker{Registry: reg}, AccessLog: rec, DialTimeout: 5 * time.Second}
	if tweak != nil {
		tweak(&cfg)
	}
	p := New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); ln.Close(); wg.Wait() })
	var vpcID string
	for id := range snap.VPCs {
		vpcID = id
	}
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
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				hello, raw, err := tlspeek.Peek(c, 0)
				c.SetReadDeadline(time.Time{})
				if err != nil && !errors.Is(err, tlspeek.ErrInvalidServerName) {
					c.Close()
					return
				}
				p.ServeConn(ctx, c, vpcID, lstPort, hello, raw)
			}()
		}
	}()
	return &env{addr: ln.Addr().String(), p: p, reg: reg, log: rec}
}

// dial makes a TLS connection through the env to serverName; it returns
// the TLS conn (handshake done) and the TCP conn under it.
func (e *env) dial(t *testing.T, pool *x509.CertPool, serverName string) (*tls.Conn, *net.TCPConn, error) {
	t.Helper()
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	tc := tls.Client(nc, &tls.Config{ServerName: serverName, RootCAs: pool, InsecureSkipVerify: serverName == ""})
	if err := tc.Handshake(); err != nil {
		nc.Close()
		return nil, nil, err
	}
	t.Cleanup(func() { tc.Close() })
	return tc, nc.(*net.TCPConn), nil
}
