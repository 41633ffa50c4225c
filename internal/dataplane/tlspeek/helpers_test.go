package tlspeek

import (
	"bytes"
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
	"sync"
	"testing"
	"time"
)

// captureHello returns the first flight a real crypto/tls client with cfg
// writes: its ClientHello records, exactly as sent.
func captureHello(tb testing.TB, cfg *tls.Config) []byte {
	tb.Helper()
	cc, sc := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = tls.Client(cc, cfg).Handshake() // fails once sc closes
	}()
	// The client writes the hello and then waits for the server, so Peek
	// reads exactly the hello.
	_, raw, err := Peek(sc, 0)
	sc.Close()
	cc.Close()
	<-done
	if err != nil {
		tb.Fatalf("peek of a crypto/tls hello: %v", err)
	}
	return raw
}

// reframe splits the handshake bytes of the TLS records in flight into
// records of at most size bytes each: what a client that fragments its
// hello sends. The handshake transcript is unchanged.
func reframe(flight []byte, size int) []byte {
	var hs []byte
	for len(flight) >= 5 {
		n := int(flight[3])<<8 | int(flight[4])
		hs = append(hs, flight[5:5+n]...)
		flight = flight[5+n:]
	}
	var out []byte
	for len(hs) > 0 {
		k := min(size, len(hs))
		out = append(out, recordTypeHandshake, 3, 1, byte(k>>8), byte(k))
		out = append(out, hs[:k]...)
		hs = hs[k:]
	}
	return out
}

// ext is one extension for buildHello.
type ext struct {
	typ  uint16
	data []byte
}

// buildHello builds a ClientHello record by hand with the given extensions
// (nil: none at all).
func buildHello(exts []ext) []byte {
	body := []byte{3, 3}
	body = append(body, make([]byte, 32)...) // random
	body = append(body, 0)                   // session id
	body = append(body, 0, 2, 0x13, 0x01)    // TLS_AES_128_GCM_SHA256
	body = append(body, 1, 0)                // null compression
	if exts != nil {
		var eb []byte
		for _, e := range exts {
			eb = append(eb, byte(e.typ>>8), byte(e.typ), byte(len(e.data)>>8), byte(len(e.data)))
			eb = append(eb, e.data...)
		}
		body = append(body, byte(len(eb)>>8), byte(len(eb)))
		body = append(body, eb...)
	}
	msg := append([]byte{typeClientHello, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	return append([]byte{recordTypeHandshake, 3, 1, byte(len(msg) >> 8), byte(len(msg))}, msg...)
}

// sniExt is a server_name extension naming host_name name.
func sniExt(name string) ext {
	entry := append([]byte{0, byte(len(name) >> 8), byte(len(name))}, name...)
	return ext{extServerName, append([]byte{byte(len(entry) >> 8), byte(len(entry))}, entry...)}
}

// alpnExt is an ALPN extension listing protos.
func alpnExt(protos ...string) ext {
	var l []byte
	for _, p := range protos {
		l = append(l, byte(len(p)))
		l = append(l, p...)
	}
	return ext{extALPN, append([]byte{byte(len(l) >> 8), byte(len(l))}, l...)}
}

// readerConn is a net.Conn reading from a byte string (writes vanish), for
// crypto/tls's view of fuzz input.
type readerConn struct{ r io.Reader }

func (c readerConn) Read(p []byte) (int, error)     { return c.r.Read(p) }
func (readerConn) Write(p []byte) (int, error)      { return len(p), nil }
func (readerConn) Close() error                     { return nil }
func (readerConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (readerConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (readerConn) SetDeadline(time.Time) error      { return nil }
func (readerConn) SetReadDeadline(time.Time) error  { return nil }
func (readerConn) SetWriteDeadline(time.Time) error { return nil }

var errStop = errors.New("stop after the hello")

// stdlibView returns what crypto/tls's server makes of input's ClientHello,
// or nil when it refuses it before asking for a config.
func stdlibView(input []byte) *tls.ClientHelloInfo {
	var got *tls.ClientHelloInfo
	cfg := &tls.Config{GetConfigForClient: func(chi *tls.ClientHelloInfo) (*tls.Config, error) {
		got = chi
		return nil, errStop
	}}
	_ = tls.Server(readerConn{bytes.NewReader(input)}, cfg).Handshake()
	return got
}

var (
	certOnce sync.Once
	testCert tls.Certificate
	testPool *x509.CertPool
)

// serverCert returns a self-signed certificate for the test names, and a
// pool that trusts it.
func serverCert(tb testing.TB) (tls.Certificate, *x509.CertPool) {
	certOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "svc.example.com"},
			DNSNames:  []string{"svc.example.com"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		leaf, _ := x509.ParseCertificate(der)
		testCert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
		testPool = x509.NewCertPool()
		testPool.AddCert(leaf)
	})
	return testCert, testPool
}
