package tlsterm

import (
	"crypto/tls"
	"strings"
	"testing"
)

// FuzzServerName feeds arbitrary SNI names to the certificate choice: it
// must never panic, and must give a certificate only for a name the VPC
// reaches, which then covers the name.
func FuzzServerName(f *testing.F) {
	for _, s := range []string{"", nameA, strings.ToUpper(domainA), domainB, domainR, nameC, "x." + domainA,
		"*." + "example.com", nameA + ".", "a.example.com\x00", "ä.example.com", strings.Repeat("a.", 200)} {
		f.Add(s, 443)
	}
	f.Add(nameA, 80)
	w := newWorld(f, nil)
	hosts := w.holder.Load().VPCs[vpc1].Hosts
	f.Fuzz(func(t *testing.T, name string, port int) {
		hello := &tls.ClientHelloInfo{ServerName: name}
		cert, err := w.term.certificate(hello, vpc1, port)
		served := hosts.Get(strings.ToLower(name)) != nil && port == 443 && name != ""
		if (cert != nil) != served {
			t.Fatalf("%q port %d: certificate %v (error %v), want one: %v", name, port, cert != nil, err, served)
		}
		if cert != nil && unusable(cert, strings.ToLower(name), w.term.now()) != "" {
			t.Fatalf("%q: served a certificate that does not cover it", name)
		}
	})
}
