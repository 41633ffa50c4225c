package snapshot

import (
	"crypto/tls"
	"encoding/json"
	"slices"

	"github.com/trellis-net/trellis/internal/model"
)

// StoredCertificate is an ACM certificate as the store holds it, with its
// TLS key pair parsed when it is decoded: watch.Loader decodes a stored
// value again only when its bytes change, so each certificate version is
// parsed once, not at every compile.
type StoredCertificate struct {
	model.Certificate
	// TLS is the certificate, its chain and its key, ready to serve; nil
	// when they do not parse (ParseErr says why, without key material).
	TLS      *tls.Certificate
	ParseErr string
}

// UnmarshalJSON decodes the stored certificate and parses its key pair.
func (c *StoredCertificate) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &c.Certificate); err != nil {
		return err
	}
	pair, err := tls.X509KeyPair([]byte(c.CertificatePEM+c.ChainPEM), []byte(c.PrivateKeyPEM))
	if err != nil {
		// tls.X509KeyPair's errors never quote the key.
		c.ParseErr = err.Error()
		return nil
	}
	c.TLS = &pair
	return nil
}

// compileCertificates maps each usable certificate's ARN to its key pair.
// The pairs are shared with the state (read-only). A certificate that does
// not parse (stored data the API would refuse today) is left out, with a
// warning.
func compileCertificates(st *State) (map[string]*tls.Certificate, []string) {
	out := make(map[string]*tls.Certificate, len(st.Certificates))
	var warn []string
	for _, c := range st.Certificates {
		if c.TLS == nil {
			warn = append(warn, "certificate "+c.ARN+" left out: "+c.ParseErr)
			continue
		}
		out[c.ARN] = c.TLS
	}
	slices.Sort(warn)
	return out, warn
}
