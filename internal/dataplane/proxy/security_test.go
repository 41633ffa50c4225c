package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/trellis-net/trellis/internal/dataplane/auth"
	"github.com/trellis-net/trellis/internal/policy"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// targetRecorder is a backend that keeps every request's header and trailer as
// the target received them.
type targetRecorder struct {
	*backend
	mu       sync.Mutex
	headers  []http.Header
	trailers []http.Header
	bodies   []string
}

func newTargetRecorder(t *testing.T) *targetRecorder {
	rc := &targetRecorder{}
	rc.backend = newBackend(t, "rec", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.headers = append(rc.headers, r.Header.Clone())
		rc.trailers = append(rc.trailers, r.Trailer.Clone())
		rc.bodies = append(rc.bodies, string(b))
		rc.mu.Unlock()
		io.WriteString(w, "ok")
	})
	return rc
}

func (rc *targetRecorder) last(t *testing.T) (http.Header, http.Header, string) {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.headers) == 0 {
		t.Fatal("the target received nothing")
	}
	n := len(rc.headers) - 1
	return rc.headers[n], rc.trailers[n], rc.bodies[n]
}

// spoofed are fields only the data plane may write, as a client might send
// them: the real names, other letter cases and underscore spellings that
// CGI-style servers read as the real ones.
var spoofed = http.Header{
	"X-Amzn-Source-Vpc":            {"vpc-0spoofed0000000"},
	"X-Amzn-Lattice-Identity":      {"Principal=arn:aws:iam::999999999999:root"},
	"X-Amzn-Lattice-Identity-Tags": {"principal=arn:aws:iam::999999999999:root"},
	"X-Amzn-Lattice-Network":       {"SourceVpcArn=spoofed"},
	"X-Amzn-Lattice-Target":        {"ServiceArn=spoofed"},
	"X-Amzn-Lattice-Future":        {"spoofed"},
	"X_Amzn_Lattice_Identity":      {"Principal=arn:aws:iam::999999999999:root"},
	"X-amzn_lattice-identity-tags": {"principal=spoofed"},
	"X_amzn_source_vpc":            {"vpc-0spoofed0000000"},
	"X_Forwarded_For":              {"203.0.113.9"},
	"X-Forwarded_Proto":            {"https"},
	"X_Amzn_Requestid":             {"spoofed"},
}

// TestAssertedFieldsStripped: whatever a client writes in a field the data
// plane asserts — in the header or as a trailer, in any spelling — never
// reaches the target, over every client protocol and toward every target
// protocol (issue 10, finding 4).
func TestAssertedFieldsStripped(t *testing.T) {
	for _, std := range []bool{false, true} {
		name := "own server"
		if std {
			name = "net/http server"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(c *testConfig) { c.StdServer = std })
			rec := newTargetRecorder(t)
			port := freePort(t, netip.MustParseAddr("127.0.0.1"))
			h1 := ipGroup("tg-s1", rec.addr())
			h2 := ipGroup("tg-s2", rec.addr())
			h2.ProtocolVersion = "HTTP2"
			svc := service("svc-0strip", "strip.example.com", port,
				rule("r-h2", 1, snapshot.Match{Path: &snapshot.PathMatch{Value: "/h2"}}, to(h2)),
				defaultRule(to(h1)))
			v := e.simple(svc)
			base := "http://" + netip.AddrPortFrom(v.Ingress, uint16(port)).String()

			clients := map[string]*http.Client{"h1": e.client, "h2c": h2cClient(t)}
			for cname, c := range clients {
				for _, path := range []string{"/", "/h2"} {
					if cname == "h1" && path == "/h2" {
						continue // HTTP/1.1 cannot reach an HTTP2 group (reference §6)
					}
					t.Run(cname+path, func(t *testing.T) {
						pr, pw := io.Pipe()
						req, _ := http.NewRequest("POST", base+path, pr)
						req.Host = "strip.example.com"
						req.ContentLength = -1 // chunked over HTTP/1.1, so trailers can follow
						for k, vs := range spoofed {
							req.Header[k] = vs
						}
						req.Trailer = http.Header{}
						for k := range spoofed {
							req.Trailer[k] = nil
						}
						extra := []string{"X-Checksum", "X-Forwarded-For"}
						if cname == "h1" {
							// HTTP/2 servers refuse this one themselves
							// (PROTOCOL_ERROR), the proxy's included.
							extra = append(extra, "Authorization")
						}
						for _, k := range extra {
							req.Trailer[k] = nil
						}
						go func() {
							io.WriteString(pw, "payload")
							for k, vs := range spoofed {
								req.Trailer[k] = vs
							}
							req.Trailer["X-Checksum"] = []string{"abc"}
							if cname == "h1" {
								req.Trailer["Authorization"] = []string{"AWS4-HMAC-SHA256 spoofed"}
							}
							req.Trailer["X-Forwarded-For"] = []string{"203.0.113.9"}
							pw.Close()
						}()
						res, err := c.Do(req)
						if err != nil {
							t.Fatal(err)
						}
						io.Copy(io.Discard, res.Body)
						res.Body.Close()
						if res.StatusCode != 200 {
							t.Fatalf("status %d", res.StatusCode)
						}
						h, tr, body := rec.last(t)
						if body != "payload" {
							t.Fatalf("body %q", body)
						}
						if got := h["X-Amzn-Source-Vpc"]; len(got) != 1 || got[0] != v.ID {
							t.Errorf("X-Amzn-Source-Vpc %q, want the socket's VPC %s", got, v.ID)
						}
						if got := h["X-Forwarded-For"]; len(got) != 1 || got[0] != "127.0.0.1" {
							t.Errorf("X-Forwarded-For %q", got)
						}
						for k, vs := range h {
							if strings.Contains(strings.ToLower(k), "spoofed") || strings.Contains(strings.Join(vs, ","), "spoofed") ||
								strings.Contains(strings.Join(vs, ","), "999999999999") || strings.Contains(strings.Join(vs, ","), "203.0.113.9") {
								t.Errorf("target got the client's %s: %q", k, vs)
							}
							if strings.Contains(k, "_") {
								t.Errorf("target got the underscore field %s: %q", k, vs)
							}
						}
						for k, vs := range tr {
							if k != "X-Checksum" {
								t.Errorf("target got trailer %s: %q", k, vs)
							}
						}
						if got := tr.Get("X-Checksum"); got != "abc" && len(tr) > 0 {
							t.Errorf("a plain trailer was lost or changed: %q", got)
						}
					})
				}
			}
		})
	}
}

// TestTrailerRaw sends the forbidden trailers over a raw connection, as no
// well-behaved client would (undeclared, and in other letter cases).
func TestTrailerRaw(t *testing.T) {
	e := newEnv(t, nil)
	rec := newTargetRecorder(t)
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	svc := service("svc-0traw", "traw.example.com", port, defaultRule(to(ipGroup("tg-traw", rec.addr()))))
	v := e.simple(svc)
	c, err := net.Dial("tcp", netip.AddrPortFrom(v.Ingress, uint16(port)).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /up HTTP/1.1\r\nHost: traw.example.com\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"3\r\nabc\r\n0\r\nContent-Length: 0\r\nHost: other.example.com\r\nx-amzn-lattice-identity: Principal=arn:aws:iam::999999999999:root\r\n"+
		"X-AMZN-SOURCE-VPC: vpc-0spoofed0000000\r\nx_amzn_lattice_network: spoofed\r\nX-Ok: 1\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	h, tr, body := rec.last(t)
	if body != "abc" {
		t.Fatalf("body %q", body)
	}
	if h.Get("X-Amzn-Source-Vpc") != v.ID {
		t.Errorf("X-Amzn-Source-Vpc %q", h.Get("X-Amzn-Source-Vpc"))
	}
	for k, vs := range tr {
		if k != "X-Ok" {
			t.Errorf("target got trailer %s: %q", k, vs)
		}
	}
}

func TestAsserted(t *testing.T) {
	for k, want := range map[string]bool{
		"X-Amzn-Lattice-Identity": true, "X-Amzn-Lattice-Anything": true, "X_Amzn_Lattice_Identity": true,
		"X-AMZN-LATTICE-X": true, "X-Amzn-Source-Vpc": true, "X_amzn_source_vpc": true, "X_Forwarded_For": true,
		"X-Forwarded_Port": true, "X_Amzn_Requestid": true,
		"X-Forwarded-For": false, "X-Amzn-Requestid": false, "X-Amzn-Lattice": false, "X-Amzn-Source-Vpcs": false,
		"X_Custom": false, "Content-Type": false, "X-Amzn-Trace-Id": false,
	} {
		if got := asserted(k); got != want {
			t.Errorf("asserted(%q) = %v, want %v", k, got, want)
		}
	}
}

// TestInjectedIdentityRefused: an identity whose header value holds CR LF
// (stored before the identity API checked it, say) never reaches a target
// as more fields or a second request: the writer refuses the exchange and
// the target receives no byte of it (issue 10, finding 1, defence in depth).
func TestInjectedIdentityRefused(t *testing.T) {
	holder := new(snapshot.Holder)
	e := newEnv(t, func(c *testConfig) {
		c.Holder = holder
		c.Auth = auth.New(holder, region, nil)
	})
	e.holder = holder
	got := make(chan []byte, 4)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
				b, _ := io.ReadAll(c)
				got <- b
			}()
		}
	}()
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	svc := service("svc-0inj", "inj.example.com", port, defaultRule(to(ipGroup("tg-inj", ln.Addr().String()))))
	svc.AuthType = "AWS_IAM"
	p, err := policy.Parse(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	svc.Policy = p
	v := vpcIn("vpc-0a000000000000001", nextIngress(), network("sn-0a000000000000001"), svc)
	snap := snapshotOf(v)
	snap.Identities = map[string]*snapshot.Identity{"AKIAINJECTED00000001": {
		AccessKeyID: "AKIAINJECTED00000001", Secret: "s3cret", Account: account,
		PrincipalARN: "arn:aws:iam::" + account + ":user/blue", PrincipalType: "User",
		Header:     []string{"Principal=arn:aws:iam::" + account + ":user/blue"},
		TagsHeader: []string{"team=blue\r\nX-Injected: yes\r\nContent-Length: 0\r\n\r\nGET /admin/x HTTP/1.1\r\nHost: inj.example.com"},
	}}
	e.publish(snap)

	req, _ := http.NewRequest("GET", "http://"+netip.AddrPortFrom(v.Ingress, uint16(port)).String()+"/x", nil)
	req.Host = "inj.example.com"
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIAINJECTED00000001", SecretAccessKey: "s3cret"},
		req, "UNSIGNED-PAYLOAD", "vpc-lattice-svcs", region, time.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", res.StatusCode)
	}
	select {
	case b := <-got:
		if len(b) > 0 {
			t.Fatalf("the target received %q", b)
		}
	case <-time.After(3 * time.Second):
		// Nothing was even connected, or nothing arrived: both fine.
	}
}

// rawTarget is a TCP server that reads request heads and lets answer write
// whatever bytes it likes for the n-th request it has read (from 1), on the
// same connection.
func rawTarget(t *testing.T, answer func(n int, head string) string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	n := 0
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					var head strings.Builder
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						head.WriteString(line)
						if line == "\r\n" {
							break
						}
					}
					mu.Lock()
					n++
					k := n
					mu.Unlock()
					if _, err := io.WriteString(c, answer(k, head.String())); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestUnsolicitedBytesNotReused: a target that answers one request with
// more bytes than the response (a second response, a body on a HEAD or
// beyond Content-Length) does not get that connection back: the next
// caller's answer is its own, never the leftover (issue 10, finding 1: a
// pooled connection is reused only when the exchange ended exactly at a
// message boundary).
func TestUnsolicitedBytesNotReused(t *testing.T) {
	for _, tc := range []struct {
		name, method, first string
	}{
		{"second response", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirstHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON"},
		{"beyond content-length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirstPOISON"},
		{"body on HEAD", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON"},
		{"body on 304", "GET", "HTTP/1.1 304 Not Modified\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawTarget(t, func(n int, head string) string {
				if n == 1 {
					return tc.first
				}
				return "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond"
			})
			e, url, host := h1Env(t, addr)
			res, _ := e.send(t, tc.method, url+"/1", host, nil, nil)
			if res.StatusCode >= 500 {
				t.Fatalf("first: %d", res.StatusCode)
			}
			res, body := e.send(t, "GET", url+"/2", host, nil, nil)
			if res.StatusCode != 200 || body != "second" {
				t.Fatalf("second caller got %d %q", res.StatusCode, body)
			}
		})
	}
}

// TestMalformedClientBody: a client whose body breaks its own framing is
// answered 400, not 502 as if the target had failed, and the target's
// connection is closed rather than left holding half a request, over an
// HTTP/1.1 target and an h2c one (issue 10, finding 5).
func TestMalformedClientBody(t *testing.T) {
	type got struct {
		body string
		err  error
	}
	seen := make(chan got, 16)
	be := newBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		seen <- got{string(b), err}
		if err == nil {
			io.WriteString(w, "complete")
		}
	})
	e := newEnv(t, nil)
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	h2 := ipGroup("tg-mb2", be.addr())
	h2.ProtocolVersion = "HTTP2"
	svc := service("svc-0mb", "mb.example.com", port,
		rule("r-h2", 1, snapshot.Match{Path: &snapshot.PathMatch{Value: "/h2"}}, to(h2)),
		defaultRule(to(ipGroup("tg-mb1", be.addr()))))
	v := e.simple(svc)
	addr := netip.AddrPortFrom(v.Ingress, uint16(port)).String()
	for _, path := range []string{"/h1", "/h2"} {
		for _, tc := range []struct{ name, framing, body string }{
			{"bad chunk size", "Transfer-Encoding: chunked", "5\r\nhello\r\nzz\r\nmore\r\n0\r\n\r\n"},
			{"chunk longer than its size", "Transfer-Encoding: chunked", "3\r\nhello\r\n0\r\n\r\n"},
			{"short body", "Content-Length: 100", "only a little"},
		} {
			t.Run(path+" "+tc.name, func(t *testing.T) {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				hits := be.hits.Load()
				io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: mb.example.com\r\n"+tc.framing+"\r\n\r\n"+tc.body)
				c.(*net.TCPConn).CloseWrite() // the short body ends here
				_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
				res, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				if res.StatusCode != http.StatusBadRequest {
					t.Errorf("status %d, want 400", res.StatusCode)
				}
				// Either nothing of the request reached the target (the body
				// failed before the proxy flushed a byte), or its handler saw
				// the body end in an error: never a complete request, never a
				// handler still waiting for the rest.
				if be.hits.Load() == hits {
					time.Sleep(200 * time.Millisecond)
				}
				if be.hits.Load() == hits {
					return
				}
				select {
				case g := <-seen:
					if g.err == nil {
						t.Errorf("the target read a complete request: %q", g.body)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("the target still waits for the rest of the request")
				}
			})
		}
	}
}

// TestNoSmuggling sends requests whose framing two HTTP parsers could read
// differently, each followed by a request to /admin that a lenient reader
// would see as a second request. The proxy re-frames every body it
// forwards, so the target can only ever see what the proxy parsed: it must
// never receive a request for /admin, and ambiguous framing is refused.
func TestNoSmuggling(t *testing.T) {
	var mu sync.Mutex
	var heads []string
	addr := rawTarget(t, func(n int, head string) string {
		mu.Lock()
		heads = append(heads, head)
		mu.Unlock()
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	})
	e, _, host := h1Env(t, addr)
	_ = e
	smuggled := "GET /admin/x HTTP/1.1\r\nHost: " + host + "\r\n\r\n"
	for _, tc := range []struct {
		name, head, body string
		status           int  // 0: any answer but 2xx for the /admin part
		control          bool // a well-framed pipelined request: /admin must arrive (the check works)
	}{
		{"control: pipelined", "Content-Length: 4", "abcd" + smuggled, 200, true},
		{"CL.TE", "Content-Length: 6\r\nTransfer-Encoding: chunked", "0\r\n\r\n" + smuggled, 400, false},
		{"TE.CL", "Transfer-Encoding: chunked\r\nContent-Length: 3", "8\r\nSMUGGLED\r\n0\r\n\r\n" + smuggled, 400, false},
		{"TE twice", "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity", "0\r\n\r\n" + smuggled, 501, false},
		{"TE list", "Transfer-Encoding: identity, chunked", "0\r\n\r\n" + smuggled, 501, false},
		{"TE lookalike", "Transfer-Encoding: xchunked", "0\r\n\r\n" + smuggled, 501, false},
		{"TE space before colon", "Transfer-Encoding : chunked", "0\r\n\r\n" + smuggled, 400, false},
		{"TE folded", "X-A: 1\r\n Transfer-Encoding: chunked", "0\r\n\r\n" + smuggled, 400, false},
		{"CL twice, different", "Content-Length: 0\r\nContent-Length: 44", smuggled, 400, false},
		{"CL with sign", "Content-Length: +44", smuggled, 400, false},
		{"CL list", "Content-Length: 44, 0", smuggled, 400, false},
		{"bare LF in chunk size", "Transfer-Encoding: chunked", "0\n\n" + smuggled, 0, false},
		{"chunk size overflow", "Transfer-Encoding: chunked", "ffffffffffffffffff1\r\nA\r\n0\r\n\r\n" + smuggled, 0, false},
		{"NUL in header", "X-A: a\x00b", smuggled, 400, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			heads = nil
			mu.Unlock()
			c, err := net.Dial("tcp", e.in.Addrs()[0])
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, "POST /public HTTP/1.1\r\nHost: "+host+"\r\n"+tc.head+"\r\n\r\n"+tc.body)
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(c)
			for i := 0; i < 2; i++ {
				res, err := http.ReadResponse(br, nil)
				if err != nil {
					break
				}
				io.Copy(io.Discard, res.Body)
				if i == 0 && tc.status != 0 && res.StatusCode != tc.status {
					t.Errorf("status %d, want %d", res.StatusCode, tc.status)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			admin := false
			for _, h := range heads {
				admin = admin || strings.Contains(h, "/admin")
			}
			if admin != tc.control {
				t.Errorf("the target received /admin: %v, want %v; heads:\n%s", admin, tc.control, heads)
			}
		})
	}
}

// pathTricks are spellings of /admin/x that some reader of the target's
// path takes for /admin/x (issue 10, finding 2), with a few variants.
var pathTricks = []string{
	"//admin/x", "/./admin/x", "/public/../admin/x", "/%2e%2e/admin/x", "/%2fadmin/x", "/admin;x=1/x",
	"/;/admin/x", "/admin\\x", "/public%00/../admin/x", "/%2E/admin/x", "/.%2e/admin/x", "/public/%2e%2e/admin/x",
	"/%61dmin/x", "/ADMIN/../admin/x", "///admin//x", "/public/..%2fadmin/x", "/public/..;/admin/x",
	"/public%2f..%2fadmin/x", "/admin%5cx", "/admin/x%00", "/x/../../admin/x", "/admin/./x", "/public/.%2E/admin/x",
}

// TestPathTricks: with a service policy denying <service>/admin/* and,
// on another service, a rule sending prefix /admin to a fixed 404, no
// spelling of /admin/x reaches a target — in origin form, in absolute form
// and over h2c — and what a target receives is the normal path the rule and
// the policy judged.
func TestPathTricks(t *testing.T) {
	holder := new(snapshot.Holder)
	e := newEnv(t, func(c *testConfig) {
		c.Holder = holder
		c.Auth = auth.New(holder, region, nil)
	})
	e.holder = holder
	var mu sync.Mutex
	var paths []string
	be := newBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.RequestURI)
		mu.Unlock()
		io.WriteString(w, "target")
	})
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	bypolicy := service("svc-0pol", "pol.example.com", port, defaultRule(to(ipGroup("tg-pol", be.addr()))))
	bypolicy.AuthType = "AWS_IAM"
	p, err := policy.Parse(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"},
		{"Sid":"NoAdmin","Effect":"Deny","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"` + bypolicy.ARN + `/admin/*"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	bypolicy.Policy = p
	byrule := service("svc-0rul", "rul.example.com", port,
		rule("r-admin", 1, snapshot.Match{Path: &snapshot.PathMatch{Value: "/admin"}}, snapshot.Action{FixedStatus: 404}),
		defaultRule(to(ipGroup("tg-rul", be.addr()))))
	v := vpcIn("vpc-0a000000000000001", nextIngress(), network("sn-0a000000000000001"), bypolicy, byrule)
	e.publish(snapshotOf(v))
	addr := netip.AddrPortFrom(v.Ingress, uint16(port)).String()

	raw := func(host, target string) int {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	h2 := h2cClient(t)
	viaH2 := func(host, path string) int {
		req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
		req.URL.Opaque = "//" + addr + path // sent as :path byte for byte
		req.Host = host
		res, err := h2.Do(req)
		if err != nil {
			return 400 // the client refused to send it: nothing reached anyone
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	for _, host := range []string{"pol.example.com", "rul.example.com"} {
		for _, trick := range pathTricks {
			for form, send := range map[string]func() int{
				"origin":   func() int { return raw(host, trick) },
				"absolute": func() int { return raw(host, "http://"+host+trick) },
				"h2c":      func() int { return viaH2(host, trick) },
			} {
				mu.Lock()
				paths = nil
				mu.Unlock()
				st := send()
				mu.Lock()
				got := paths
				mu.Unlock()
				if st == 200 || len(got) > 0 {
					t.Errorf("%s %s %q: status %d, the target received %q", host, form, trick, st, got)
				}
				if st != 400 && st != 403 && st != 404 {
					t.Errorf("%s %s %q: status %d", host, form, trick, st)
				}
			}
		}
	}
	// What is allowed arrives in its normal form.
	for in, want := range map[string]string{
		"//public//x": "/public/x", "/public/./a/../x?q=%2F..": "/public/x?q=%2F..", "/%70ublic/%7euser": "/public/~user",
		"/public/a%2a": "/public/a%2A", "http://pol.example.com/public/x?y": "/public/x?y",
	} {
		for _, host := range []string{"pol.example.com", "rul.example.com"} {
			mu.Lock()
			paths = nil
			mu.Unlock()
			if st := raw(host, in); st != 200 {
				t.Fatalf("%s %q: status %d", host, in, st)
			}
			mu.Lock()
			got := paths
			mu.Unlock()
			if len(got) != 1 || got[0] != want {
				t.Errorf("%s %q: the target received %q, want %q", host, in, got, want)
			}
		}
	}
}
