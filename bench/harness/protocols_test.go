package main

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseProtoload(t *testing.T) {
	for _, tc := range []struct {
		name    string
		out     string
		wantErr bool
		want    ProtoRun
	}{
		{"good", `{"mode":"grpc","seconds":5.0001,"requests":50000,"errors":0,"perSec":9999.8,"detail":"4 conns"}` + "\n",
			false, ProtoRun{PerSec: 9999.8, Requests: 50000, Detail: "4 conns"}},
		{"errors and samples", `{"mode":"ws","seconds":1,"requests":10,"errors":2,"perSec":10,"detail":"d","errorSamples":["read: EOF","x"]}`,
			false, ProtoRun{PerSec: 10, Requests: 10, Errors: 2, Detail: "d; errors: read: EOF | x"}},
		{"unknown field", `{"mode":"ws","seconds":1,"requests":10,"errors":0,"perSec":10,"bogus":1}`, true, ProtoRun{}},
		{"no duration", `{"mode":"ws","seconds":0,"requests":10,"errors":0,"perSec":10}`, true, ProtoRun{}},
		{"negative", `{"mode":"ws","seconds":1,"requests":-1,"errors":0,"perSec":10}`, true, ProtoRun{}},
		{"not json", "protoload: probe: connection refused\n", true, ProtoRun{}},
		{"empty", "", true, ProtoRun{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProtoload(tc.out)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzParseProtoload(f *testing.F) {
	f.Add(`{"mode":"grpc","seconds":5,"requests":5,"errors":0,"perSec":1,"detail":"x","errorSamples":["a"]}`)
	f.Add(`{"seconds":-1}`)
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, out string) {
		r, err := parseProtoload(out)
		if err == nil && (r.Requests < 0 || r.Errors < 0 || r.PerSec < 0) {
			t.Errorf("accepted impossible numbers: %+v", r)
		}
	})
}

func TestCmdError(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"taskset -c 1 /x/protoload -addr 127.0.0.1:1 -mode ws: exit status 1: protoload: WebSocket handshake: 400 Bad Request",
			"protoload: WebSocket handshake: 400 Bad Request"},
		{"h2load ...: timed out after 31s: starting\nbenchmark", "h2load ...: timed out after 31s: starting benchmark"},
		{"plain", "plain"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := cmdError(tc.in); got != tc.want {
				t.Errorf("cmdError(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestProtocolsSection: ratios to nginx from the median of the unbroken
// rounds; a skipped target shows n/a and why; one never measured shows a dash.
func TestProtocolsSection(t *testing.T) {
	r := &Results{ProtoScenarios: []protoScenario{{Key: scH2C, Title: "h2c", Tool: "h2load", Unit: "req/s"}},
		Params: Params{ProtoDuration: "5s", ProtoWarmup: "1s", ProtoRounds: 3},
		Protocols: []ProtoRun{
			{Scenario: scH2C, Target: "nginx", PerSec: 1000, Requests: 1},
			{Scenario: scH2C, Target: "nginx", PerSec: 3000, Requests: 1},
			{Scenario: scH2C, Target: "nginx", PerSec: 2000, Requests: 1},
			{Scenario: scH2C, Target: "direct", PerSec: 4000, Requests: 1},
			{Scenario: scH2C, Target: "direct", PerSec: 9e9, Requests: 1, Errors: 1}, // broken: left out
			{Scenario: scH2C, Target: "direct", PerSec: 4000, Requests: 1},
		},
		Skipped: []SkipNote{{Target: "trellis", What: scH2C, Why: "n/a (not served): refused"}}}
	var b bytes.Buffer
	protocolsSection(&b, r)
	out := b.String()
	for _, want := range []string{
		"| h2c, req/s | h2load | 4,000 (2.00×) [4,000–4,000] | n/a | 2,000 (1.00×) [1,000–3,000] | — |",
		"- trellis, h2c: n/a (not served): refused",
		"5s per run after a 1s warm-up, 3 round(s)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
}

// TestPKIAndTLSGet: the run's certificate verifies for the service's name
// with the run's CA over HTTP/1.1 and h2, and tlsGet refuses another CA and
// a wrong body.
func TestPKIAndTLSGet(t *testing.T) {
	const host = "svc.bench.invalid"
	dir := t.TempDir()
	pki, err := newPKI(filepath.Join(dir, "a"), host)
	if err != nil {
		t.Fatal(err)
	}
	other, err := newPKI(filepath.Join(dir, "b"), host)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(pki.certFile, pki.keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tls.LoadX509KeyPair(pki.bundleFile, pki.bundleFile); err != nil {
		t.Fatalf("bundle: %v", err)
	}
	body := backendBody
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()
	for _, h2 := range []bool{false, true} {
		if err := tlsGet(addr, host, pki.caFile, h2); err != nil {
			t.Errorf("h2 %v: %v", h2, err)
		}
		if err := tlsGet(addr, host, other.caFile, h2); err == nil {
			t.Errorf("h2 %v: another CA was accepted", h2)
		}
		if err := tlsGet(addr, "other.bench.invalid", pki.caFile, h2); err == nil {
			t.Errorf("h2 %v: a certificate for another name was accepted", h2)
		}
	}
	body = "not the backend"
	if err := tlsGet(addr, host, pki.caFile, false); err == nil {
		t.Error("a wrong body was accepted")
	}
}

// TestProxyConfigs: nginx and HAProxy accept the suite's configuration and
// listen on every port of it (skipped where they are not installed).
func TestProxyConfigs(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(*env) (*Target, error)
	}{{"nginx", startNginx}, {"haproxy", startHAProxy}} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := lookBin(tc.name); err != nil {
				t.Skip(err)
			}
			if _, err := exec.LookPath("taskset"); err != nil {
				t.Skip(err)
			}
			dir := t.TempDir()
			e := &env{dir: dir, backend: "127.0.0.1:9", grpcAddr: "127.0.0.1:9", wsAddr: "127.0.0.1:9",
				host: "svc.bench.invalid", cpuProxy: "0", cpuLoad: "0"}
			var err error
			if e.tls, err = newPKI(filepath.Join(dir, "pki"), e.host); err != nil {
				t.Fatal(err)
			}
			tg, err := tc.start(e)
			t.Cleanup(func() { forget(tc.name) })
			if err != nil {
				t.Fatal(err)
			}
			for _, sc := range protoScenarios {
				a := tg.Proto[sc.Key]
				if a == "" {
					t.Errorf("no address for %s", sc.Key)
					continue
				}
				c, err := net.DialTimeout("tcp", a, 2*time.Second)
				if err != nil {
					t.Errorf("%s: %v", sc.Key, err)
					continue
				}
				c.Close()
			}
			if tg.caFile != e.tls.caFile {
				t.Errorf("caFile %q", tg.caFile)
			}
		})
	}
}

func TestProtoCmd(t *testing.T) {
	tg := &Target{Name: "x", Host: "svc.bench.invalid", caFile: "/ca.pem",
		Proto:     map[string]string{scHTTPS: "127.0.0.1:8443", scH2C: "127.0.0.1:8080", scGRPC: "127.0.0.1:9000", scTLS12: "127.0.0.1:8444"},
		ProtoHost: map[string]string{scGRPC: "grpc.bench.invalid"}}
	for _, tc := range []struct {
		sc   string
		want []string
	}{
		{scHTTPS, []string{"h2load", "--h1", "--warm-up-time=1", "--connect-to=127.0.0.1:8443", "https://svc.bench.invalid:8443/"}},
		{scH2C, []string{"h2load", ":authority: svc.bench.invalid", "http://127.0.0.1:8080/"}},
		{scGRPC, []string{"/bin/protoload", "-mode grpc", "-host grpc.bench.invalid", "-addr 127.0.0.1:9000"}},
		{scTLS12, []string{"-mode tls", "-tls 1.2", "-ca /ca.pem", "-host svc.bench.invalid"}},
	} {
		t.Run(tc.sc, func(t *testing.T) {
			got := strings.Join(protoCmd("/bin", "1", tc.sc, tg, 5*time.Second, time.Second), " ")
			if !strings.HasPrefix(got, "-c 1 ") {
				t.Errorf("not pinned to the load core: %s", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q missing from %s", w, got)
				}
			}
		})
	}
}
