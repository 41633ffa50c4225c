package tlsterm

import (
	"crypto/tls"
	"testing"
)

// BenchmarkHandshake measures whole handshakes on loopback, client and
// server sides both in this process (ns/op covers both): full ones, with
// the generated name's leaf cached after the first, and resumed ones
// (session tickets).
func BenchmarkHandshake(b *testing.B) {
	for _, bc := range []struct {
		name    string
		version uint16
		resume  bool
	}{
		{"full/TLSv1.3", tls.VersionTLS13, false},
		{"full/TLSv1.2", tls.VersionTLS12, false},
		{"resumed/TLSv1.3", tls.VersionTLS13, true},
		{"resumed/TLSv1.2", tls.VersionTLS12, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			w := newWorld(b, nil)
			addr := serve(b, w.term, vpc1, 443)
			cfg := &tls.Config{ServerName: nameA, RootCAs: pool(w.ca), MaxVersion: bc.version}
			if bc.resume {
				cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
			}
			if _, err := dial(addr, cfg); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				st, err := dial(addr, cfg)
				if err != nil {
					b.Fatal(err)
				}
				if st.DidResume != bc.resume {
					b.Fatalf("resumed %v", st.DidResume)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
		})
	}
}
