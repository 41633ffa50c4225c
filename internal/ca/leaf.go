package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// LeafValidity is the lifetime of a certificate the CA issues: 395 days,
// as ACM's (13 months), under the 398-day ceiling browsers enforce.
const LeafValidity = 395 * 24 * time.Hour

// Leaf is what Trellis keeps of a certificate and its key (an imported
// one, or one the CA issued): the PEM texts and the parsed facts ACM
// describes.
type Leaf struct {
	CertPEM, ChainPEM, KeyPEM []byte
	DomainName                string   // the subject's CN, or the first SAN
	SANs                      []string // the DNS names (and IP addresses) it covers
	NotBefore, NotAfter       time.Time
	Issuer, Subject           string
	Serial                    string // colon-separated hex, as ACM shows it
	KeyAlgorithm              string // ACM's names: RSA_2048, EC_prime256v1, ...
	SignatureAlgorithm        string // ACM's names: SHA256WITHECDSA, ...
}

// ParseLeaf checks a certificate to import (ACM ImportCertificate): one PEM
// certificate, its unencrypted PEM private key, and an optional PEM chain
// of certificates. The key must match the certificate; the certificate
// must not be a CA certificate that another signed. Errors never quote the key.
func ParseLeaf(certPEM, keyPEM, chainPEM []byte) (*Leaf, error) {
	blocks, rest := pemBlocks(certPEM)
	if len(blocks) != 1 || strings.TrimSpace(string(rest)) != "" || blocks[0].Type != "CERTIFICATE" {
		return nil, errors.New("Certificate must be exactly one PEM-encoded certificate")
	}
	cert, err := x509.ParseCertificate(blocks[0].Bytes)
	if err != nil {
		return nil, fmt.Errorf("Certificate cannot be parsed: %v", err)
	}
	// A self-signed certificate is imported as it is, CA flag or not:
	// `openssl req -x509` marks its certificates CA:TRUE by default, and ACM
	// takes them (the usual test certificate). Nothing ever trusts an
	// imported certificate as an issuer; it is only served. A CA
	// certificate that another signed (an intermediate) is a mistake.
	if cert.IsCA && !selfSigned(cert) {
		return nil, errors.New("Certificate is a CA certificate signed by another; import the leaf certificate (and the CA in CertificateChain)")
	}
	kb, krest := pem.Decode(keyPEM)
	if kb == nil || strings.TrimSpace(string(krest)) != "" || !strings.HasSuffix(kb.Type, "PRIVATE KEY") {
		return nil, errors.New("PrivateKey must be one PEM-encoded private key")
	}
	if _, ok := kb.Headers["Proc-Type"]; ok {
		return nil, errors.New("PrivateKey must not be encrypted")
	}
	if _, err := tls.X509KeyPair(pem.EncodeToMemory(blocks[0]), keyPEM); err != nil {
		return nil, errors.New("PrivateKey does not match the certificate, or is not a supported key (RSA, ECDSA, Ed25519)")
	}
	var chainOut []byte
	if len(chainPEM) > 0 {
		cb, crest := pemBlocks(chainPEM)
		if len(cb) == 0 || strings.TrimSpace(string(crest)) != "" {
			return nil, errors.New("CertificateChain must be PEM-encoded certificates")
		}
		for _, b := range cb {
			if b.Type != "CERTIFICATE" {
				return nil, errors.New("CertificateChain must hold certificates only")
			}
			if _, err := x509.ParseCertificate(b.Bytes); err != nil {
				return nil, fmt.Errorf("CertificateChain cannot be parsed: %v", err)
			}
			chainOut = append(chainOut, pem.EncodeToMemory(b)...)
		}
	}
	l := describe(cert)
	// Re-encoded: the stored text holds nothing but the parsed blocks.
	l.CertPEM = pem.EncodeToMemory(blocks[0])
	l.KeyPEM = pem.EncodeToMemory(&pem.Block{Type: kb.Type, Bytes: kb.Bytes})
	l.ChainPEM = chainOut
	return l, nil
}

// selfSigned reports a certificate whose issuer is its subject and whose
// signature its own key verifies.
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

func pemBlocks(b []byte) ([]*pem.Block, []byte) {
	var out []*pem.Block
	for len(out) < 16 {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		out = append(out, blk)
	}
	return out, b
}

func describe(cert *x509.Certificate) *Leaf {
	l := &Leaf{NotBefore: cert.NotBefore.UTC(), NotAfter: cert.NotAfter.UTC(),
		Issuer: cert.Issuer.String(), Subject: cert.Subject.String(), Serial: colonHex(cert.SerialNumber.Bytes())}
	l.SANs = append(l.SANs, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		l.SANs = append(l.SANs, ip.String())
	}
	l.DomainName = cert.Subject.CommonName
	if l.DomainName == "" && len(l.SANs) > 0 {
		l.DomainName = l.SANs[0]
	}
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		l.KeyAlgorithm = fmt.Sprintf("RSA_%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			l.KeyAlgorithm = "EC_prime256v1"
		case elliptic.P384():
			l.KeyAlgorithm = "EC_secp384r1"
		case elliptic.P521():
			l.KeyAlgorithm = "EC_secp521r1"
		}
	default:
		l.KeyAlgorithm = cert.PublicKeyAlgorithm.String()
	}
	l.SignatureAlgorithm = strings.ReplaceAll(strings.ToUpper(cert.SignatureAlgorithm.String()), "-", "WITH")
	return l
}

func colonHex(b []byte) string {
	if len(b) == 0 {
		return "00"
	}
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(':')
		}
		fmt.Fprintf(&sb, "%02x", c)
	}
	return sb.String()
}

// Issue makes a certificate signed by the CA for domain and sans (DNS
// names, wildcards allowed), with a new ECDSA P-256 key: a server
// certificate (RFC 5280 §4.2.1.12 serverAuth) valid for LeafValidity
// from a minute before now. The chain is the CA's certificate.
func (c *CA) Issue(domain string, sans []string, now time.Time) (*Leaf, error) {
	key, serial, err := newKeyAndSerial()
	if err != nil {
		return nil, err
	}
	names := []string{domain}
	for _, s := range sans {
		if s != domain {
			names = append(names, s)
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)), // never zero (RFC 5280 §4.1.2.2)
		Subject:      pkix.Name{CommonName: domain},
		DNSNames:     names,
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(LeafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if tmpl.NotAfter.After(c.Cert.NotAfter) {
		tmpl.NotAfter = c.Cert.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.Cert, &key.PublicKey, crypto.Signer(c.Key))
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	l := describe(cert)
	l.CertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	l.KeyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	l.ChainPEM = c.CertPEM
	return l, nil
}

// Covers reports whether a certificate's names cover host: an exact name
// (case-insensitive), or a wildcard "*.example.com" covering exactly one
// leftmost label (RFC 6125 §6.4.3).
func Covers(sans []string, host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, n := range sans {
		n = strings.ToLower(n)
		if n == host {
			return true
		}
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			if i := strings.IndexByte(host, '.'); i > 0 && host[i+1:] == rest {
				return true
			}
		}
	}
	return false
}
