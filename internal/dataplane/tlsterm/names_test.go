package tlsterm

import (
	"crypto/tls"
	"testing"
)

func TestCipherName(t *testing.T) {
	cases := []struct {
		id   uint16
		want string
	}{
		{tls.TLS_AES_128_GCM_SHA256, "TLS_AES_128_GCM_SHA256"},
		{tls.TLS_AES_256_GCM_SHA384, "TLS_AES_256_GCM_SHA384"},
		{tls.TLS_CHACHA20_POLY1305_SHA256, "TLS_CHACHA20_POLY1305_SHA256"},
		{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256"},
		{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "ECDHE-RSA-AES128-SHA"},
		{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384"},
		{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "ECDHE-RSA-AES256-SHA"},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256"},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "ECDHE-ECDSA-AES128-SHA"},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384"},
		{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "ECDHE-ECDSA-AES256-SHA"},
		{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305"},
		{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, "AES128-GCM-SHA256"},
		{tls.TLS_RSA_WITH_AES_128_CBC_SHA, "AES128-SHA"},
		{tls.TLS_RSA_WITH_AES_256_GCM_SHA384, "AES256-GCM-SHA384"},
		{tls.TLS_RSA_WITH_AES_256_CBC_SHA, "AES256-SHA"},
		{0, ""},
		{0xffff, ""},
	}
	for _, tc := range cases {
		t.Run(tls.CipherSuiteName(tc.id), func(t *testing.T) {
			if got := CipherName(tc.id); got != tc.want {
				t.Errorf("CipherName(%#04x) = %q, want %q", tc.id, got, tc.want)
			}
		})
	}
	// Every suite Go knows (secure or not) has a name here.
	for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if CipherName(s.ID) == "" {
			t.Errorf("%s (%#04x) has no name", s.Name, s.ID)
		}
	}
	for _, s := range cipherSuites {
		if CipherName(s) == "" {
			t.Errorf("policy suite %#04x has no name", s)
		}
	}
}

func TestVersionName(t *testing.T) {
	cases := []struct {
		v    uint16
		want string
	}{
		{tls.VersionTLS13, "TLSv1.3"},
		{tls.VersionTLS12, "TLSv1.2"},
		{tls.VersionTLS11, "TLSv1.1"},
		{tls.VersionTLS10, "TLSv1"},
		{0x0300, ""}, // SSL 3.0: never negotiated
		{0, ""},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			if got := VersionName(tc.v); got != tc.want {
				t.Errorf("VersionName(%#04x) = %q, want %q", tc.v, got, tc.want)
			}
		})
	}
}

func TestNamesAllocs(t *testing.T) {
	n := testing.AllocsPerRun(100, func() {
		_ = CipherName(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
		_ = VersionName(tls.VersionTLS12)
	})
	if n != 0 {
		t.Errorf("%v allocations", n)
	}
}
