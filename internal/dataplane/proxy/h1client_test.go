package proxy

import (
	"strings"
	"testing"
)

// TestH1ResponseParsing: the own HTTP/1.1 client reads each target answer
// as RFC 9112 frames it, end to end through the proxy.
func TestH1ResponseParsing(t *testing.T) {
	for _, tc := range []struct {
		name, answer string
		method       string
		status       int
		body         string
		check        func(t *testing.T, r *rawConn, header map[string][]string)
	}{
		{name: "content length", answer: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2\r\n\r\nhello",
			status: 200, body: "hello", check: func(t *testing.T, _ *rawConn, h map[string][]string) {
				if v := h["X-A"]; len(v) != 2 || v[0] != "1" || v[1] != "2" {
					t.Errorf("X-A %q", v)
				}
			}},
		{name: "chunked with trailers", answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-T: done\r\n\r\n",
			status: 200, body: "abcde"},
		{name: "TE and CL: chunked wins", answer: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
			status: 200, body: "abc"},
		{name: "close delimited", answer: "HTTP/1.1 200 OK\r\n\r\nuntil the end",
			status: 200, body: "until the end"},
		{name: "HTTP/1.0", answer: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
			status: 200, body: "ok"},
		{name: "no reason phrase", answer: "HTTP/1.1 201\r\nContent-Length: 0\r\n\r\n", status: 201},
		{name: "204 ignores a length", answer: "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", status: 204},
		{name: "HEAD", method: "HEAD", answer: "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", status: 200,
			check: func(t *testing.T, _ *rawConn, h map[string][]string) {
				if v := h["Content-Length"]; len(v) != 1 || v[0] != "1234" {
					t.Errorf("HEAD Content-Length %q", v)
				}
			}},
		{name: "100 Continue skipped", answer: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", status: 200, body: "ok"},
		{name: "bad status line", answer: "HTTP/1.1 2OO OK\r\n\r\n", status: 502},
		{name: "not HTTP", answer: "SSH-2.0-OpenSSH\r\n\r\n", status: 502},
		{name: "HTTP/2 status line", answer: "HTTP/2.0 200 OK\r\n\r\n", status: 502},
		{name: "bad length", answer: "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", status: 502},
		{name: "conflicting lengths", answer: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx", status: 502},
		{name: "bad field", answer: "HTTP/1.1 200 OK\r\nBad Field: x\r\n\r\n", status: 502},
		{name: "folded field", answer: "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 0\r\n\r\n", status: 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := rawBackend(t, tc.answer)
			_, url, host := h1Env(t, be)
			method := tc.method
			if method == "" {
				method = "GET"
			}
			c := dialRaw(t, strings.TrimPrefix(url, "http://"))
			c.send(method + " / HTTP/1.1\r\nHost: " + host + "\r\n\r\n")
			res, body := c.response(method)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%q)", res.StatusCode, tc.status, body)
			}
			if tc.status != 502 && body != tc.body {
				t.Fatalf("body %q, want %q", body, tc.body)
			}
			if tc.status == 502 && !strings.Contains(body, "malformed response") {
				t.Fatalf("502 body %q", body)
			}
			if tc.name == "chunked with trailers" && res.Trailer.Get("X-T") != "done" {
				t.Fatalf("trailer %v", res.Trailer)
			}
			if tc.check != nil {
				tc.check(t, c, res.Header)
			}
		})
	}
}

// FuzzH1Response feeds arbitrary bytes to the response parser: no panic,
// and wherever net/http's parser accepts too, the same status, length and
// header.
