package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

type unary struct {
	testgrpc.UnimplementedTestServiceServer
	size int // answer size; -1: the requested one
}

func (u unary) UnaryCall(_ context.Context, in *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	n := int(in.GetResponseSize())
	if u.size >= 0 {
		n = u.size
	}
	return &testgrpc.SimpleResponse{Payload: &testgrpc.Payload{Body: make([]byte, n)}}, nil
}

func startGRPC(t *testing.T, size int) string {
	ln := listen(t)
	s := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(s, unary{size: size})
	go s.Serve(ln)
	t.Cleanup(s.Stop)
	return ln.Addr().String()
}

func short(c config) config {
	c.duration, c.warmup, c.timeout = 300*time.Millisecond, 50*time.Millisecond, 2*time.Second
	return c
}

func TestGRPC(t *testing.T) {
	good, wrong := startGRPC(t, -1), startGRPC(t, 3)
	for _, tc := range []struct {
		name, addr, errHas string
	}{
		{"calls", good, ""},
		{"wrong answer size", wrong, "answer payload 3 bytes"},
		{"nothing listens", "127.0.0.1:1", "probe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := run(short(config{mode: "grpc", addr: tc.addr, host: "svc.example", conc: 4, conns: 2, size: 64}))
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want one with %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests == 0 || r.Errors != 0 || r.PerSec <= 0 {
				t.Errorf("got %+v", r)
			}
		})
	}
}

func TestWS(t *testing.T) {
	up := websocket.Upgrader{}
	var hosts = make(chan string, 100)
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case hosts <- r.Host:
		default:
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			typ, m, err := c.ReadMessage()
			if err != nil {
				return
			}
			if r.URL.Path == "/mangle" {
				m = append(m, 'x')
			}
			c.WriteMessage(typ, m)
		}
	})
	ln := listen(t)
	srv := &http.Server{Handler: echo}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	plain := listen(t) // an HTTP server that does not upgrade
	psrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello") })}
	go psrv.Serve(plain)
	t.Cleanup(func() { psrv.Close() })

	for _, tc := range []struct {
		name, addr, path, errHas string
	}{
		{"round trips", ln.Addr().String(), "/", ""},
		{"echo changed", ln.Addr().String(), "/mangle", "echo"},
		{"no upgrade", plain.Addr().String(), "/", "WebSocket handshake"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := run(short(config{mode: "ws", addr: tc.addr, host: "svc.example", path: tc.path, conc: 3, size: 64}))
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want one with %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests == 0 || r.Errors != 0 {
				t.Errorf("got %+v", r)
			}
			if h := <-hosts; h != "svc.example" {
				t.Errorf("Host %q, want svc.example", h)
			}
		})
	}
}

// tlsServer serves 200 over TLS with a P-256 certificate for
// svc.example, TLS versions min..max; it counts resumed handshakes.
func tlsServer(t *testing.T, minV, maxV uint16) (addr, caFile string, resumed func() int) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "svc.example"},
		DNSNames: []string{"svc.example"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	var n = make(chan struct{}, 1<<20)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS.DidResume {
			n <- struct{}{}
		}
		io.WriteString(w, "ok")
	}), TLSConfig: &tls.Config{MinVersion: minV, MaxVersion: maxV,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}}
	ln := listen(t)
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), caFile, func() int { return len(n) }
}

func TestTLS(t *testing.T) {
	both, ca, resumed := tlsServer(t, tls.VersionTLS12, tls.VersionTLS13)
	only12, ca12, _ := tlsServer(t, tls.VersionTLS12, tls.VersionTLS12)
	for _, tc := range []struct {
		name, addr, ca, host, ver, errHas, detail string
	}{
		{"1.3", both, ca, "svc.example", "1.3", "", "TLS 1.3"},
		{"1.2", both, ca, "svc.example", "1.2", "", "TLS 1.2"},
		{"1.3 against a 1.2-only server", only12, ca12, "svc.example", "1.3", "probe", ""},
		{"wrong name", both, ca, "other.example", "1.3", "certificate", ""},
		{"bad version flag", both, ca, "svc.example", "1.1", "-tls", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := run(short(config{mode: "tls", addr: tc.addr, host: tc.host, path: "/", ca: tc.ca, tlsVer: tc.ver, conc: 2}))
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want one with %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests == 0 || r.Errors != 0 || !strings.HasPrefix(r.Detail, tc.detail) {
				t.Errorf("got %+v", r)
			}
		})
	}
	if n := resumed(); n != 0 {
		t.Errorf("%d handshakes resumed a session; every one must be full", n)
	}
}

// TestTCP: both raw TCP modes round-trip through a real echo server, count
// every round trip, and report an echo that changes the bytes.
func TestTCP(t *testing.T) {
	serve := func(mangle bool) string {
		ln := listen(t)
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					buf := make([]byte, 4096)
					for {
						n, err := c.Read(buf)
						if err != nil {
							return
						}
						if mangle {
							buf[0] ^= 1
						}
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
				}()
			}
		}()
		return ln.Addr().String()
	}
	echo, bad := serve(false), serve(true)
	for _, mode := range []string{"tcp", "tcpconn"} {
		t.Run(mode, func(t *testing.T) {
			r, err := run(short(config{mode: mode, addr: echo, conc: 3, size: 64}))
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests == 0 || r.Errors != 0 {
				t.Errorf("got %+v", r)
			}
			if _, err := run(short(config{mode: mode, addr: bad, conc: 1, size: 64})); err == nil || !strings.Contains(err.Error(), "echo") {
				t.Errorf("a changed echo: err = %v", err)
			}
		})
	}
}
