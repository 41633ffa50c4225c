package h2

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// describe answers with what it saw of the request, and a response shaped
// by the path: the same handler behind both servers.
func describe(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	body, err := io.ReadAll(r.Body)
	fmt.Fprintf(&b, "method=%s proto=%s/%d.%d host=%s uri=%s path=%s rawquery=%s escaped=%s cl=%d\n",
		r.Method, r.Proto, r.ProtoMajor, r.ProtoMinor, r.Host, r.RequestURI, r.URL.Path, r.URL.RawQuery, r.URL.EscapedPath(), r.ContentLength)
	fmt.Fprintf(&b, "body=%q err=%v tls=%v\n", body, err, r.TLS != nil)
	keys := make([]string, 0, len(r.Header))
	for k := range r.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "h %s=%q\n", k, r.Header[k])
	}
	keys = keys[:0]
	for k := range r.Trailer {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "t %s=%q\n", k, r.Trailer[k])
	}
	h := w.Header()
	h["X-Multi"] = []string{"a", "b"}
	h.Set("Content-Type", "text/plain")
	switch {
	case strings.HasPrefix(r.URL.Path, "/status/"):
		var code int
		fmt.Sscan(strings.TrimPrefix(r.URL.Path, "/status/"), &code)
		w.WriteHeader(code)
	case r.URL.Path == "/trailers":
		h.Set("Trailer", "X-T1")
		w.WriteHeader(200)
		io.WriteString(w, b.String())
		h.Set("X-T1", "v1")
		h.Set(http.TrailerPrefix+"X-T2", "v2")
		return
	case r.URL.Path == "/flush":
		io.WriteString(w, "part1;")
		w.(http.Flusher).Flush()
	case r.URL.Path == "/length":
		h.Set("Content-Length", fmt.Sprint(b.Len()))
	}
	io.WriteString(w, b.String())
}

type result struct {
	status  int
	header  string
	body    string
	trailer string
}

func canonResponse(res *http.Response) result {
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		body = append(body, []byte(" read error: "+err.Error())...)
	}
	dump := func(h http.Header) string {
		var lines []string
		for k, v := range h {
			if k == "Date" {
				continue
			}
			lines = append(lines, k+"="+strings.Join(v, "|"))
		}
		sort.Strings(lines)
		return strings.Join(lines, "\n")
	}
	return result{res.StatusCode, dump(res.Header), string(body), dump(res.Trailer)}
}

// stdH2C serves describe with net/http's HTTP/2 server (cleartext, prior
// knowledge).
func stdH2C(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	s := &http.Server{Handler: http.HandlerFunc(describe), Protocols: p}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return ln.Addr().String()
}

// TestDifferentialNetHTTP sends the same requests through this server and
// net/http's HTTP/2 server, with x/net's client, and compares what the
// handler saw and what the client got.
func TestDifferentialNetHTTP(t *testing.T) {
	_, ours := newServer(t, describe)
	std := stdH2C(t)
	c := h2cClient(t)
	type req struct {
		method, path string
		header       http.Header
		body         string
		unknownLen   bool
		trailer      http.Header
	}
	reqs := []req{
		{method: "GET", path: "/"},
		{method: "GET", path: "/a/b?x=1&y=%20z"},
		{method: "GET", path: "/%7Euser/a%2Fb/c?q"},
		{method: "GET", path: "/a;b,c=d@e:f$g&h+i"},
		{method: "GET", path: "/q?"},
		{method: "GET", path: "/", header: http.Header{"Cookie": {"a=1", "b=2"}, "X-Multi": {"1", "2"}, "Accept-Encoding": {"identity"}}},
		{method: "GET", path: "/", header: http.Header{"X-Odd-Name_1": {"v"}, "User-Agent": {"ua"}, "Te": {"trailers"}}},
		{method: "POST", path: "/post", body: "hello body"},
		{method: "POST", path: "/post", body: strings.Repeat("x", 100000)},
		{method: "POST", path: "/post", body: "unknown length", unknownLen: true},
		{method: "POST", path: "/trailers", body: "with trailers", unknownLen: true, trailer: http.Header{"X-Req-T": {"rt"}}},
		{method: "PUT", path: "/status/201", body: "x"},
		{method: "GET", path: "/status/204"},
		{method: "GET", path: "/status/304"},
		{method: "GET", path: "/status/404"},
		{method: "GET", path: "/status/500"},
		{method: "HEAD", path: "/"},
		{method: "HEAD", path: "/length"},
		{method: "GET", path: "/length"},
		{method: "GET", path: "/flush"},
		{method: "GET", path: "/trailers"},
		{method: "DELETE", path: "/x"},
		{method: "OPTIONS", path: "/x"},
		{method: "PATCH", path: "/x", body: "p"},
	}
	for _, r := range reqs {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			do := func(addr string) result {
				var body io.Reader
				if r.body != "" {
					body = strings.NewReader(r.body)
					if r.unknownLen {
						body = io.MultiReader(body)
					}
				}
				hr, err := http.NewRequest(r.method, "http://"+addr+r.path, body)
				if err != nil {
					t.Fatal(err)
				}
				hr.Host = "service.example"
				for k, v := range r.header {
					hr.Header[k] = v
				}
				if r.trailer != nil {
					hr.Trailer = r.trailer.Clone()
				}
				res, err := c.Do(hr)
				if err != nil {
					t.Fatalf("%s: %v", addr, err)
				}
				return canonResponse(res)
			}
			got, want := do(ours), do(std)
			if got != want {
				t.Errorf("differs from net/http:\n--- ours\n%d\n%s\n%s\ntrailer %s\n--- net/http\n%d\n%s\n%s\ntrailer %s",
					got.status, got.header, got.body, got.trailer, want.status, want.header, want.body, want.trailer)
			}
		})
	}
}

// stdH2TLS serves describe with net/http's HTTP/2 server over TLS.
func stdH2TLS(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &http.Server{Handler: http.HandlerFunc(describe), TLSConfig: &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}}
	go s.ServeTLS(ln, "", "")
	t.Cleanup(func() { s.Close() })
	return ln.Addr().String()
}

// selfSigned makes a certificate for 127.0.0.1 and "service.example".
func selfSigned(t *testing.T) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "service.example"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"service.example"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// serveTLS serves s over TLS with ALPN h2 (the ingress's path after the
// handshake).
func serveTLS(t *testing.T, s *Server) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}, NextProtos: []string{"h2"}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				tc := tls.Server(c, conf)
				if tc.Handshake() != nil || tc.ConnectionState().NegotiatedProtocol != "h2" {
					tc.Close()
					return
				}
				s.ServeConn(tc)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.Close() })
	return ln.Addr().String()
}

// curl runs curl and returns its status, sorted header lines (no date) and
// body.
func curl(t *testing.T, args ...string) string {
	out, err := exec.Command("curl", append([]string{"-sS", "-i", "--max-time", "10"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %v: %v\n%s", args, err, out)
	}
	head, body, _ := bytes.Cut(out, []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\r\n")
	var keep []string
	for _, l := range lines[1:] {
		if !strings.HasPrefix(strings.ToLower(l), "date:") {
			keep = append(keep, strings.ToLower(l))
		}
	}
	slices.Sort(keep)
	return lines[0] + "\n" + strings.Join(keep, "\n") + "\n\n" + string(body)
}

// TestCurl compares curl's view of this server and of net/http's, over
// h2c (prior knowledge) and h2 over TLS.
func TestCurl(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("no curl")
	}
	_, ours := newServer(t, describe)
	std := stdH2C(t)
	oursTLS := serveTLS(t, NewServer(http.HandlerFunc(describe), testLog))
	stdTLS := stdH2TLS(t)
	for _, path := range []string{"/", "/a/b?c=d", "/trailers", "/status/404", "/length"} {
		got := curl(t, "--http2-prior-knowledge", "-H", "Host: service.example", "http://"+ours+path)
		want := curl(t, "--http2-prior-knowledge", "-H", "Host: service.example", "http://"+std+path)
		if got != want {
			t.Errorf("h2c %s:\n--- ours\n%s\n--- net/http\n%s", path, got, want)
		}
		tlsGot := curl(t, "--http2", "-k", "-H", "Host: service.example", "https://"+oursTLS+path)
		tlsWant := curl(t, "--http2", "-k", "-H", "Host: service.example", "https://"+stdTLS+path)
		if tlsGot != tlsWant || !strings.HasPrefix(tlsGot, "HTTP/2 ") {
			t.Errorf("h2 over TLS %s:\n--- ours\n%s\n--- net/http\n%s", path, tlsGot, tlsWant)
		}
	}
	got := curl(t, "--http2-prior-knowledge", "--data-binary", "posted", "http://"+ours+"/p")
	want := curl(t, "--http2-prior-knowledge", "--data-binary", "posted", "http://"+std+"/p")
	if strings.ReplaceAll(got, ours, "HOST") != strings.ReplaceAll(want, std, "HOST") {
		t.Errorf("POST:\n--- ours\n%s\n--- net/http\n%s", got, want)
	}
}
