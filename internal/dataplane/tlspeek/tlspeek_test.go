package tlspeek

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"testing/iotest"
)

func TestPeekRealClients(t *testing.T) {
	tests := []struct {
		name     string
		cfg      *tls.Config
		wantSNI  string
		wantALPN []string
		want13   bool
	}{
		{"default X25519MLKEM768", &tls.Config{ServerName: "svc.example.com"}, "svc.example.com", nil, true},
		{"alpn h2 and http/1.1", &tls.Config{ServerName: "svc.example.com", NextProtos: []string{"h2", "http/1.1"}},
			"svc.example.com", []string{"h2", "http/1.1"}, true},
		{"upper case SNI is lowercased", &tls.Config{ServerName: "API.Example.COM"}, "api.example.com", nil, true},
		{"no SNI (IP literal is not sent)", &tls.Config{ServerName: "10.0.0.1", InsecureSkipVerify: true}, "", nil, true},
		{"X25519 only", &tls.Config{ServerName: "a.example.com", CurvePreferences: []tls.CurveID{tls.X25519}},
			"a.example.com", nil, true},
		{"TLS 1.2 only", &tls.Config{ServerName: "old.example.com", MaxVersion: tls.VersionTLS12},
			"old.example.com", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := captureHello(t, tc.cfg)
			h, raw2, err := Peek(bytes.NewReader(raw), 0)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(raw, raw2) {
				t.Fatalf("raw is not what was read")
			}
			if h.ServerName != tc.wantSNI {
				t.Errorf("ServerName %q, want %q", h.ServerName, tc.wantSNI)
			}
			if !slices.Equal(h.ALPN, tc.wantALPN) {
				t.Errorf("ALPN %q, want %q", h.ALPN, tc.wantALPN)
			}
			if h.LegacyVersion != tls.VersionTLS12 {
				t.Errorf("LegacyVersion %#x", h.LegacyVersion)
			}
			if got := slices.Contains(h.SupportedVersions, tls.VersionTLS13); got != tc.want13 {
				t.Errorf("SupportedVersions %x: TLS 1.3 %v, want %v", h.SupportedVersions, got, tc.want13)
			}
			// crypto/tls's server reads the same.
			chi := stdlibView(raw)
			if chi == nil || chi.ServerName != tc.cfg.ServerName && tc.wantSNI != "" {
				t.Errorf("crypto/tls view: %+v", chi)
			}
		})
	}
}

// A hello spread over several records, arriving one byte per read, reads
// the same as in one record, and raw is exactly what was read.
func TestPeekFragmented(t *testing.T) {
	one := captureHello(t, &tls.Config{ServerName: "svc.example.com", NextProtos: []string{"h2"}})
	want, _, err := Peek(bytes.NewReader(one), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1, 2, 3, 4, 5, 100, 512, 1000} {
		t.Run("records of "+itoa(size), func(t *testing.T) {
			in := reframe(one, size)
			tail := []byte("after")
			r := io.MultiReader(iotest.OneByteReader(bytes.NewReader(in)), bytes.NewReader(tail))
			h, raw, err := Peek(r, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(raw, in) {
				t.Fatalf("read %d bytes, the hello is %d: a one-byte reader must not be read past it", len(raw), len(in))
			}
			if h.ServerName != want.ServerName || !slices.Equal(h.ALPN, want.ALPN) ||
				!slices.Equal(h.SupportedVersions, want.SupportedVersions) {
				t.Fatalf("got %+v, want %+v", h, want)
			}
			if chi := stdlibView(in); chi == nil || chi.ServerName != "svc.example.com" {
				t.Fatalf("crypto/tls does not take the reframed hello: %+v", chi)
			}
		})
	}
}

func TestPeekRefuses(t *testing.T) {
	big := captureHello(t, &tls.Config{ServerName: "svc.example.com"})
	tests := []struct {
		name  string
		input []byte
		max   int
		want  error
	}{
		{"plain HTTP", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), 0, ErrNotTLS},
		{"SSLv2 hello", []byte{0x80, 0x2e, 0x01, 0x03, 0x01, 0, 0}, 0, ErrNotTLS},
		{"alert record", []byte{21, 3, 1, 0, 2, 2, 40}, 0, ErrNotTLS},
		{"server hello", []byte{22, 3, 3, 0, 4, 2, 0, 0, 0}, 0, ErrNotClientHello},
		{"zero-length record", []byte{22, 3, 1, 0, 0}, 0, ErrMalformed},
		{"truncated", big[:len(big)-1], 0, io.ErrUnexpectedEOF},
		{"empty", nil, 0, io.ErrUnexpectedEOF},
		{"over max", big, len(big) - 1, ErrTooLarge},
		{"IPv4 literal SNI", buildHello([]ext{sniExt("10.0.0.1")}), 0, ErrInvalidServerName},
		{"IPv6 literal SNI", buildHello([]ext{sniExt("::1")}), 0, ErrInvalidServerName},
		{"trailing dot", buildHello([]ext{sniExt("svc.example.com.")}), 0, ErrInvalidServerName},
		{"underscore", buildHello([]ext{sniExt("a_b.example.com")}), 0, ErrInvalidServerName},
		{"empty label", buildHello([]ext{sniExt("a..example.com")}), 0, ErrInvalidServerName},
		{"leading hyphen", buildHello([]ext{sniExt("-a.example.com")}), 0, ErrInvalidServerName},
		{"wildcard", buildHello([]ext{sniExt("*.example.com")}), 0, ErrInvalidServerName},
		{"Kelvin sign (lowers to k in Unicode)", buildHello([]ext{sniExt("SVC.\u212Aey.example.com")}), 0, ErrInvalidServerName},
		{"NUL in name", buildHello([]ext{sniExt("a\x00.example.com")}), 0, ErrInvalidServerName},
		{"duplicate extension", buildHello([]ext{alpnExt("h2"), alpnExt("h2")}), 0, ErrMalformed},
		{"empty ALPN name", buildHello([]ext{alpnExt("")}), 0, ErrMalformed},
		{"two host names", buildHello([]ext{{extServerName, []byte{0, 8, 0, 0, 1, 'a', 0, 0, 1, 'b'}}}), 0, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, raw, err := Peek(bytes.NewReader(tc.input), tc.max)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if h != nil {
				t.Fatalf("hello %+v with an error", h)
			}
			if !bytes.HasPrefix(tc.input, raw) {
				t.Fatalf("raw is not a prefix of the input")
			}
			if tc.max > 0 && len(raw) > tc.max {
				t.Fatalf("read %d bytes, max %d", len(raw), tc.max)
			}
		})
	}
}

func TestPeekHandBuilt(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		sni  string
		alpn []string
	}{
		{"no extensions", buildHello(nil), "", nil},
		{"empty extensions", buildHello([]ext{}), "", nil},
		{"sni and alpn", buildHello([]ext{sniExt("Svc.Example.com"), alpnExt("h2", "x")}), "svc.example.com", []string{"h2", "x"}},
		{"other name type skipped", buildHello([]ext{{extServerName, []byte{0, 4, 1, 0, 1, 'a'}}}), "", nil},
		{"digits in inner labels", buildHello([]ext{sniExt("10.0.0.1.example.com")}), "10.0.0.1.example.com", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, _, err := Peek(bytes.NewReader(tc.in), 0)
			if err != nil {
				t.Fatal(err)
			}
			if h.ServerName != tc.sni || !slices.Equal(h.ALPN, tc.alpn) {
				t.Fatalf("got %+v", h)
			}
		})
	}
}

// A real TLS server completes the handshake over the replaying conn, on
// loopback TCP, with the hello in one record and spread over many.
func TestReplayHandshake(t *testing.T) {
	cert, pool := serverCert(t)
	for _, frag := range []int{0, 200} {
		t.Run("fragment "+itoa(frag), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			srvErr := make(chan error, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					srvErr <- err
					return
				}
				defer c.Close()
				h, raw, err := Peek(c, 0)
				if err != nil {
					srvErr <- err
					return
				}
				if h.ServerName != "svc.example.com" || !slices.Equal(h.ALPN, []string{"h2", "http/1.1"}) {
					srvErr <- errors.New("unexpected hello " + h.ServerName)
					return
				}
				ts := tls.Server(Replay(c, raw), &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}})
				if err := ts.Handshake(); err != nil {
					srvErr <- err
					return
				}
				_, err = io.Copy(ts, ts) // echo until the client closes
				srvErr <- err
			}()
			nc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			var cc net.Conn = nc
			if frag > 0 {
				cc = &fragmentingConn{Conn: nc, size: frag}
			}
			tc := tls.Client(cc, &tls.Config{ServerName: "svc.example.com", RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}})
			defer tc.Close()
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
				t.Fatalf("ALPN %q", p)
			}
			msg := []byte("hello through the replay")
			if _, err := tc.Write(msg); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(tc, got); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("echo %q, %v", got, err)
			}
			tc.CloseWrite()
			if err := <-srvErr; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// fragmentingConn re-frames the client's first write (its hello) into
// records of size bytes.
type fragmentingConn struct {
	net.Conn
	size int
	done bool
}

func (c *fragmentingConn) Write(p []byte) (int, error) {
	if c.done {
		return c.Conn.Write(p)
	}
	c.done = true
	if _, err := c.Conn.Write(reframe(p, c.size)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func TestReplayConn(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	go func() {
		b.Write([]byte("rest"))
		b.Close()
	}()
	rc := Replay(a, []byte("head-"))
	got, err := io.ReadAll(rc)
	if err != nil || string(got) != "head-rest" {
		t.Fatalf("%q, %v", got, err)
	}
	if Replay(a, nil) != a {
		t.Fatal("an empty replay should be the conn itself")
	}
	if err := rc.(interface{ CloseWrite() error }).CloseWrite(); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("CloseWrite on a pipe: %v", err)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func BenchmarkPeek(b *testing.B) {
	hello := captureHello(b, &tls.Config{ServerName: "svc.example.com", NextProtos: []string{"h2", "http/1.1"}})
	r := bytes.NewReader(hello)
	b.ReportAllocs()
	b.SetBytes(int64(len(hello)))
	for b.Loop() {
		r.Reset(hello)
		if _, _, err := Peek(r, 0); err != nil {
			b.Fatal(err)
		}
	}
}
