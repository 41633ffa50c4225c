package tlspeek

import (
	"bytes"
	"crypto/tls"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzPeek: Peek never panics, never reads past what it returns (raw is
// exactly the prefix of the input it consumed, also when the input comes
// one byte per read), and agrees with crypto/tls's server: a hello that
// crypto/tls takes, Peek takes with the same SNI, ALPN and versions, unless
// its SNI is not a DNS host name (which crypto/tls does not check).
func FuzzPeek(f *testing.F) {
	for _, cfg := range []*tls.Config{
		{ServerName: "svc.example.com"}, // X25519MLKEM768 by default
		{ServerName: "svc.example.com", NextProtos: []string{"h2", "http/1.1"}},
		{ServerName: "Mixed.Case.example"},
		{InsecureSkipVerify: true},
		{ServerName: "a.example.com", CurvePreferences: []tls.CurveID{tls.X25519}},
		{ServerName: "old.example.com", MaxVersion: tls.VersionTLS12},
	} {
		h := captureHello(f, cfg)
		f.Add(h)
		f.Add(reframe(h, 300))
		f.Add(reframe(h, 3))
	}
	f.Add(buildHello(nil))
	f.Add(buildHello([]ext{sniExt("10.0.0.1")}))
	f.Add(buildHello([]ext{sniExt("x."), alpnExt("h2")}))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, raw, err := Peek(bytes.NewReader(in), 0)
		if !bytes.HasPrefix(in, raw) || len(raw) > DefaultMax {
			t.Fatalf("raw (%d bytes) is not a prefix of the input within max", len(raw))
		}
		if (h == nil) == (err == nil) {
			t.Fatalf("hello %v with err %v", h, err)
		}
		// One byte per read: the same answer, and not one byte read
		// beyond the hello's last record.
		h1, raw1, err1 := Peek(iotest.OneByteReader(bytes.NewReader(in)), 0)
		if (err == nil) != (err1 == nil) || (h != nil && h1.ServerName != h.ServerName) {
			t.Fatalf("bulk read: %v %v; byte by byte: %v %v", h, err, h1, err1)
		}
		if err1 == nil && !bytes.HasPrefix(raw, raw1) {
			t.Fatalf("byte-by-byte raw is not a prefix")
		}
		if h != nil && h.ServerName != "" && !validHostName(h.ServerName) {
			t.Fatalf("accepted server name %q", h.ServerName)
		}
		chi := stdlibView(in)
		if chi == nil {
			return // crypto/tls refuses it: Peek may be laxer (it reads fewer extensions)
		}
		if err != nil {
			if errors.Is(err, ErrInvalidServerName) && !validHostName(strings.ToLower(chi.ServerName)) {
				return
			}
			if errors.Is(err, ErrTooLarge) {
				return
			}
			t.Fatalf("crypto/tls takes the hello (SNI %q), Peek: %v", chi.ServerName, err)
		}
		if h.ServerName != strings.ToLower(chi.ServerName) {
			t.Fatalf("SNI %q, crypto/tls %q", h.ServerName, chi.ServerName)
		}
		if !slices.Equal(h.ALPN, chi.SupportedProtos) {
			t.Fatalf("ALPN %q, crypto/tls %q", h.ALPN, chi.SupportedProtos)
		}
		if h.SupportedVersions != nil && !slices.Equal(h.SupportedVersions, chi.SupportedVersions) {
			t.Fatalf("versions %x, crypto/tls %x", h.SupportedVersions, chi.SupportedVersions)
		}
	})
}
