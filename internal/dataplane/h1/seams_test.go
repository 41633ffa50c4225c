package h1

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
	"testing"
	"time"
)

// selfSigned is a certificate for 127.0.0.1, made for the test.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "h1 test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestServeConnTLS: a *tls.Conn handed to ServeConn is served after its
// handshake, and the request's r.TLS and ConnInfoOf name its state; a
// cleartext connection has neither.
func TestServeConnTLS(t *testing.T) {
	type seen struct {
		info  ConnInfo
		rTLS  *tls.ConnectionState
		found bool
	}
	got := make(chan seen, 2)
	s := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ci := ConnInfoOf(r.Context())
		v := seen{rTLS: r.TLS, found: ci != nil}
		if ci != nil {
			v.info = *ci
		}
		got <- v
		w.Header().Set("Content-Length", "2")
		_, _ = io.WriteString(w, "ok")
	}), testLogger(t), nil)
	t.Cleanup(func() { s.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	cfg := &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}, NextProtos: []string{"http/1.1"}}
	go func() {
		for i := 0; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if i == 0 {
				go s.ServeConn(tls.Server(c, cfg))
			} else {
				go s.ServeConn(c)
			}
		}
	}()

	for _, tc := range []struct {
		name string
		tls  bool
	}{{"tls", true}, {"cleartext", false}} {
		t.Run(tc.name, func(t *testing.T) {
			var c net.Conn
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if tc.tls {
				c = tls.Client(c, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}) //nolint:gosec // test's own certificate
			}
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			v := <-got
			if !v.found || !v.info.Peer.IsValid() || v.info.Local == nil || len(v.info.PeerHeader) != 1 || v.info.PeerHeader[0] != "127.0.0.1" {
				t.Fatalf("ConnInfo %+v (found %v)", v.info, v.found)
			}
			if tc.tls {
				if v.rTLS == nil || v.info.TLS != v.rTLS || !v.rTLS.HandshakeComplete || v.rTLS.NegotiatedProtocol != "http/1.1" {
					t.Fatalf("r.TLS %+v, ConnInfo.TLS %p", v.rTLS, v.info.TLS)
				}
			} else if v.rTLS != nil || v.info.TLS != nil {
				t.Fatal("a cleartext request has TLS state")
			}
		})
	}
}

// TestHandOff: a connection opening with the HTTP/2 preface goes to
// HandOff with every byte still to read; without HandOff it is closed.
func TestHandOff(t *testing.T) {
	const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	for _, tc := range []struct {
		name    string
		handOff bool
	}{{"handed", true}, {"no HandOff", false}} {
		t.Run(tc.name, func(t *testing.T) {
			handed := make(chan string, 1)
			s := NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("handler called") }), testLogger(t), nil)
			if tc.handOff {
				s.HandOff = func(c net.Conn) {
					defer c.Close()
					_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
					b := make([]byte, len(preface)+5)
					n, _ := io.ReadFull(c, b)
					handed <- string(b[:n])
				}
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- s.Serve(ln) }()
			t.Cleanup(func() { ln.Close(); s.Close(); <-served })
			c := dialRaw(t, ln.Addr().String())
			c.send(preface + "hello")
			if tc.handOff {
				if got := <-handed; got != preface+"hello" {
					t.Fatalf("HandOff read %q", got)
				}
				return
			}
			if b, _ := io.ReadAll(c.br); len(b) != 0 {
				t.Fatalf("without HandOff the client got %q", b)
			}
		})
	}
}
