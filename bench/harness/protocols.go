package main

// The protocols suite (issue 12, "fast enough to choose"): HTTPS, new TLS
// handshakes, h2 over TLS, h2c, gRPC and WebSocket, each through Trellis,
// nginx and HAProxy (and directly where the backend speaks the protocol),
// reported as ratios to nginx. A scenario Trellis does not serve yet is
// detected by a probe and reported "n/a (not served)"; no number is made
// up for it.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The scenarios, in report order.
const (
	scHTTPS = "https-h1"
	scTLS13 = "tls13-new"
	scTLS12 = "tls12-new"
	scH2TLS = "h2-tls"
	scH2C   = "h2c"
	scGRPC  = "grpc"
	scWS    = "ws"
)

// protoScenario describes one scenario of the suite.
type protoScenario struct {
	Key   string `json:"key"`
	Title string `json:"title"`
	Tool  string `json:"tool"` // the load and its shape, as the docs show it
	Unit  string `json:"unit"`
}

var protoScenarios = []protoScenario{
	{scHTTPS, "HTTPS keep-alive (TLS 1.3, ECDSA P-256)", "h2load --h1 -c64 -m1 -t1 (ALPN http/1.1, SNI = the service name)", "req/s"},
	{scTLS13, "new TLS 1.3 handshakes", "protoload -mode tls -tls 1.3 -c32: a new connection per request, X25519, no resumption", "handshakes/s"},
	{scTLS12, "new TLS 1.2 handshakes", "protoload -mode tls -tls 1.2 -c32: a new connection per request, X25519, no resumption", "handshakes/s"},
	{scH2TLS, "h2 over TLS (TLS 1.3)", "h2load -c32 -m10 -t1 (ALPN h2)", "req/s"},
	{scH2C, "h2c (prior knowledge)", "h2load -c32 -m10 -t1", "req/s"},
	{scGRPC, "gRPC unary (h2c)", "protoload -mode grpc -c64 -conns 4: grpc-go UnaryCall, 64-byte answers", "calls/s"},
	{scWS, "WebSocket round trips", "protoload -mode ws -c32: 64-byte binary message, wait for the echo", "round trips/s"},
}

// ProtoRun is one measurement of the protocols suite.
type ProtoRun struct {
	Scenario string  `json:"scenario"`
	Target   string  `json:"target"`
	Round    int     `json:"round"`
	PerSec   float64 `json:"perSec"`
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	Non2xx   int64   `json:"non2xx"`
	Detail   string  `json:"detail,omitempty"`
	Err      string  `json:"err,omitempty"`
}

func (r ProtoRun) broken() bool {
	return r.Err != "" || r.Errors > 0 || r.Non2xx > 0 || r.Requests == 0
}

// benchPKI is the certificate nginx and HAProxy serve for the service's
// name: an ECDSA P-256 leaf signed by a CA made for this run.
type benchPKI struct {
	caFile     string // CA certificate (PEM)
	certFile   string // leaf certificate (PEM)
	keyFile    string // leaf key (PEM)
	bundleFile string // leaf certificate and key (HAProxy's crt)
}

// newPKI writes a fresh CA and a leaf for host into dir.
func newPKI(dir, host string) (*benchPKI, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "trellis bench CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	p := &benchPKI{caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "cert.pem"),
		keyFile: filepath.Join(dir, "key.pem"), bundleFile: filepath.Join(dir, "bundle.pem")}
	for _, f := range []struct {
		path string
		b    []byte
	}{
		{p.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})},
		{p.certFile, certPEM}, {p.keyFile, keyPEM}, {p.bundleFile, append(append([]byte{}, certPEM...), keyPEM...)},
	} {
		if err := os.WriteFile(f.path, f.b, 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// nginxProtoConf is the nginx configuration of the suite: a TLS 1.3 server
// (h1 and h2 by ALPN), a TLS 1.2 server, a gRPC server (h2c, grpc_pass) and
// a WebSocket server (proxy_pass with the Upgrade headers).
func nginxProtoConf(e *env, p13, p12, pg, pw int) string {
	return fmt.Sprintf(`
    upstream bench_grpc {
        server %[1]s;
        keepalive 128;
        keepalive_requests 1000000;
    }
    upstream bench_ws {
        server %[2]s;
    }
    server {
        listen 127.0.0.1:%[3]d ssl http2;
        server_name %[7]s;
        ssl_certificate %[8]s;
        ssl_certificate_key %[9]s;
        ssl_protocols TLSv1.3;
        location / {
            proxy_pass http://bench_backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }
    }
    server {
        listen 127.0.0.1:%[4]d ssl;
        server_name %[7]s;
        ssl_certificate %[8]s;
        ssl_certificate_key %[9]s;
        ssl_protocols TLSv1.2;
        location / {
            proxy_pass http://bench_backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }
    }
    server {
        listen 127.0.0.1:%[5]d http2;
        server_name %[7]s;
        location / {
            grpc_pass grpc://bench_grpc;
        }
    }
    server {
        listen 127.0.0.1:%[6]d;
        server_name %[7]s;
        location / {
            proxy_pass http://bench_ws;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host $host;
            proxy_read_timeout 120s;
        }
    }
`, e.grpcAddr, e.wsAddr, p13, p12, pg, pw, e.host, e.tls.certFile, e.tls.keyFile)
}

// haproxyProtoConf is HAProxy's: TLS binds with the version pinned, a gRPC
// frontend (h2 on both sides) and a WebSocket frontend (HTTP mode handles
// the upgrade; timeout tunnel for the open connection).
func haproxyProtoConf(e *env, p13, p12, pg, pw int) string {
	return fmt.Sprintf(`
frontend bench_tls13
    bind 127.0.0.1:%[3]d ssl crt %[8]s alpn h2,http/1.1 ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.3
    acl bench_host req.hdr(host),field(1,:) -i %[7]s
    use_backend bench_backend if bench_host
    default_backend no_such_host

frontend bench_tls12
    bind 127.0.0.1:%[4]d ssl crt %[8]s alpn http/1.1 ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.2
    acl bench_host req.hdr(host),field(1,:) -i %[7]s
    use_backend bench_backend if bench_host
    default_backend no_such_host

frontend bench_grpc
    bind 127.0.0.1:%[5]d proto h2
    acl bench_host req.hdr(host),field(1,:) -i %[7]s
    use_backend bench_grpc if bench_host
    default_backend no_such_host

backend bench_grpc
    server grpc %[1]s proto h2

frontend bench_ws
    bind 127.0.0.1:%[6]d
    timeout tunnel 120s
    acl bench_host req.hdr(host),field(1,:) -i %[7]s
    use_backend bench_ws if bench_host
    default_backend no_such_host

backend bench_ws
    timeout tunnel 120s
    server ws %[2]s
`, e.grpcAddr, e.wsAddr, p13, p12, pg, pw, e.host, e.tls.bundleFile)
}

// protoAddrs is the scenario → address map of a proxy with the suite's
// four extra ports (TLS 1.3, TLS 1.2, gRPC, WebSocket) and its h2c address.
func protoAddrs(h2c string, p13, p12, pg, pw int) map[string]string {
	a := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
	return map[string]string{scHTTPS: a(p13), scTLS13: a(p13), scTLS12: a(p12), scH2TLS: a(p13),
		scH2C: h2c, scGRPC: a(pg), scWS: a(pw)}
}

// trellisProtocols configures the running Trellis t for the suite through
// its CLI: an HTTPS listener on the measured service, a gRPC service (target
// group protocol version GRPC → the backend's TestService) and a WebSocket
// service (→ the backend's echo), each with its own listener port. What
// Trellis refuses is noted in t.ProtoNote and left out. It also fetches the
// installation CA (`trellis ca get`) into caFile.
func trellisProtocols(e *env, t *Target, caFile string) {
	t.Proto = map[string]string{scH2C: t.H2CAddr}
	t.ProtoNote = map[string]string{}
	bin := filepath.Join(e.bin, "trellis")
	cliEnv := []string{"TRELLIS_ENDPOINT=http://" + t.api, "TRELLIS_DATA_DIR=" + t.dataDir}
	cli := func(args ...string) (string, error) {
		return runCmd(30*time.Second, cliEnv, bin, args...)
	}
	ingress, _, _ := net.SplitHostPort(t.Addr)
	noteAll := func(err error, scs ...string) {
		for _, s := range scs {
			t.ProtoNote[s] = oneLine(err.Error())
		}
	}
	ports, err := freePorts(3)
	if err != nil {
		noteAll(err, scHTTPS, scTLS13, scTLS12, scH2TLS, scGRPC, scWS)
		return
	}
	// HTTPS: a second listener of the measured service.
	tlsScs := []string{scHTTPS, scTLS13, scTLS12, scH2TLS}
	if _, err := cli("listener", "create", "--service", "bench-svc", "--name", "tls", "--protocol", "HTTPS",
		"--port", strconv.Itoa(ports[0]), "--default-forward", "bench-tg=100"); err != nil {
		noteAll(fmt.Errorf("HTTPS listener refused: %v", err), tlsScs...)
	} else if pemOut, err := cli("ca", "get"); err != nil || !strings.Contains(pemOut, "-----BEGIN CERTIFICATE-----") {
		if err == nil {
			err = fmt.Errorf("no PEM certificate in %q", clip(pemOut))
		}
		noteAll(fmt.Errorf("trellis ca get: %v", err), tlsScs...)
	} else if err := os.WriteFile(caFile, []byte(pemOut), 0o600); err != nil {
		noteAll(err, tlsScs...)
	} else {
		a := net.JoinHostPort(ingress, strconv.Itoa(ports[0]))
		for _, s := range tlsScs {
			t.Proto[s] = a
		}
	}
	// gRPC and WebSocket: a service each.
	for i, x := range []struct{ sc, name, backend, version string }{
		{scGRPC, "bench-grpc", e.grpcAddr, "GRPC"},
		{scWS, "bench-ws", e.wsAddr, "HTTP1"},
	} {
		_, bport, _ := net.SplitHostPort(x.backend)
		lp := strconv.Itoa(ports[1+i])
		var err error
		for _, s := range [][]string{
			{"service", "create", "--name", x.name},
			{"target-group", "create", "--name", x.name + "-tg", "--type", "IP", "--protocol", "HTTP", "--protocol-version", x.version, "--port", bport, "--vpc", trellisVPC},
			{"target-group", "register-targets", "--target-group", x.name + "-tg", "--target", x.backend},
			{"listener", "create", "--service", x.name, "--name", "web", "--protocol", "HTTP", "--port", lp, "--default-forward", x.name + "-tg=100"},
			{"service-network-service-association", "create", "--service-network", "bench-net", "--service", x.name},
		} {
			if _, err = cli(s...); err != nil {
				break
			}
		}
		if err == nil {
			var out string
			out, err = cli("service", "get", x.name)
			if err == nil {
				var v struct {
					DNSEntry struct {
						DomainName string `json:"domainName"`
					} `json:"dnsEntry"`
				}
				if err = json.Unmarshal([]byte(out), &v); err == nil && v.DNSEntry.DomainName == "" {
					err = errors.New("no dnsEntry.domainName")
				}
				if err == nil {
					t.Proto[x.sc] = net.JoinHostPort(ingress, lp)
					if t.ProtoHost == nil {
						t.ProtoHost = map[string]string{}
					}
					t.ProtoHost[x.sc] = v.DNSEntry.DomainName
				}
			}
		}
		if err != nil {
			t.ProtoNote[x.sc] = oneLine(err.Error())
		}
	}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// hostFor is the Host / :authority / SNI a scenario's client sends to t.
func (t *Target) hostFor(sc string) string {
	if h := t.ProtoHost[sc]; h != "" {
		return h
	}
	return t.Host
}

// tlsGet sends one GET over TLS to addr with SNI and Host = host, trusting
// only caFile, over HTTP/1.1 or h2 (by ALPN), and checks the backend's body
// comes back over that protocol: the probe of the TLS scenarios.
func tlsGet(addr, host, caFile string, h2 bool) error {
	pemb, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemb) {
		return fmt.Errorf("%s: no PEM certificate", caFile)
	}
	protos := new(http.Protocols)
	want := "HTTP/1.1"
	if h2 {
		protos.SetHTTP2(true)
		want = "HTTP/2.0"
	} else {
		protos.SetHTTP1(true)
	}
	tr := &http.Transport{Protocols: protos, TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: host, MinVersion: tls.VersionTLS13},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{Timeout: 2 * time.Second}).DialContext(ctx, network, addr)
		}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	_, port, _ := net.SplitHostPort(addr)
	res, err := c.Get("https://" + net.JoinHostPort(host, port) + "/")
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	if err != nil {
		return err
	}
	if res.StatusCode != 200 || string(b) != backendBody || res.Proto != want {
		return fmt.Errorf("%s status %d body %q; want %s, 200 and the backend's body", res.Proto, res.StatusCode, clip(string(b)), want)
	}
	return nil
}
