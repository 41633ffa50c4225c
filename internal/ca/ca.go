// Package ca is the installation's certificate authority: the root that
// signs the certificates Trellis issues (docs/certificates.md). It is
// generated into the data directory on first start, or given as files
// (`trellis serve --ca-cert FILE --ca-key FILE`), and is the same across
// restarts.
//
// The generated key is ECDSA P-256: every TLS client Trellis serves
// verifies it (RFC 8446 §4.2.3 ecdsa_secp256r1_sha256, RFC 5480), its
// signatures are far cheaper than RSA's, and a certificate it signs is
// small. A CA given with flags may be RSA or ECDSA.
package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// File names of a generated CA inside the data directory.
const (
	CertFile = "ca.pem"     // mode 0644: the public certificate
	KeyFile  = "ca-key.pem" // mode 0600: the private key
)

// Validity is the lifetime of a generated CA.
const Validity = 10 * 365 * 24 * time.Hour

// Source says where a CA came from.
type Source int

const (
	Generated Source = iota // generated now into the data directory
	FromData                // read from the data directory
	FromFlags               // read from --ca-cert/--ca-key
)

// CA is a loaded certificate authority.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte // the certificate alone, PEM ("CERTIFICATE")
	Key     crypto.Signer
}

// Load returns the CA given as files (certFile and keyFile, both or
// neither), or the one in dataDir, generating it there when dataDir has
// none. It returns the files the CA was read from or written to.
func Load(dataDir, certFile, keyFile string) (*CA, Source, string, error) {
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return nil, 0, "", errors.New("--ca-cert and --ca-key are given together")
		}
		c, err := readPair(certFile, keyFile)
		if err != nil {
			return nil, 0, "", err
		}
		return c, FromFlags, certFile, nil
	}
	cp, kp := filepath.Join(dataDir, CertFile), filepath.Join(dataDir, KeyFile)
	_, cerr := os.Stat(cp)
	_, kerr := os.Stat(kp)
	switch {
	case cerr == nil && kerr == nil:
		c, err := readPair(cp, kp)
		return c, FromData, cp, err
	case errors.Is(cerr, fs.ErrNotExist) && errors.Is(kerr, fs.ErrNotExist):
		c, err := generate(cp, kp, time.Now())
		return c, Generated, cp, err
	case cerr == nil || kerr == nil:
		// One without the other: generating a new CA would silently
		// replace a root that clients trust; refuse instead.
		return nil, 0, "", fmt.Errorf("ca: %s and %s must both exist or both be absent", cp, kp)
	default:
		return nil, 0, "", fmt.Errorf("ca: %w", errors.Join(cerr, kerr))
	}
}

func readPair(certFile, keyFile string) (*CA, error) {
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("ca key: %w", err)
	}
	return Parse(cb, kb)
}

// Parse checks a PEM certificate and its PEM private key: the key matches
// the certificate (tls.X509KeyPair), and the certificate may sign others
// (a CA with keyCertSign, RFC 5280 §4.2.1.3 and §4.2.1.9). Only the first
// certificate of certPEM is the CA; anything after it is ignored.
func Parse(certPEM, keyPEM []byte) (*CA, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// The error of X509KeyPair never quotes the key material.
		return nil, fmt.Errorf("ca: %w", err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("ca certificate: %w", err)
	}
	if !cert.BasicConstraintsValid || !cert.IsCA {
		return nil, errors.New("ca certificate: not a CA (basicConstraints cA is not set)")
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errors.New("ca certificate: its key usage does not allow signing certificates (keyCertSign)")
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("ca key: not a signing key")
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	return &CA{Cert: cert, CertPEM: out, Key: signer}, nil
}

func generate(certPath, keyPath string, now time.Time) (*CA, error) {
	key, serial, err := newKeyAndSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"Trellis"}, CommonName: "Trellis installation CA " + serial.Text(16)[:8]},
		// A minute back for clocks a little behind this one.
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(Validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// Only leaves below it (RFC 5280 §4.2.1.9 pathLenConstraint 0).
		MaxPathLen:     0,
		MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	// The key first: a crash between the two writes leaves a key without a
	// certificate, which Load refuses rather than regenerating over it.
	if err := writeFile(keyPath, keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := writeFile(certPath, certPEM, 0o644); err != nil {
		return nil, err
	}
	return Parse(certPEM, keyPEM)
}

// writeFile writes data to path through a temporary file created with
// mode perm (so the key is never readable by others, not even briefly)
// and renamed into place.
func writeFile(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	// The umask may have narrowed perm; set it exactly.
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("ca: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("ca: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("ca: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("ca: %w", err)
	}
	return nil
}

// Pool returns a pool holding only this CA, for a client that trusts it.
func (c *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Cert)
	return p
}

// Equal reports whether two CAs have the same certificate.
func (c *CA) Equal(o *CA) bool { return o != nil && bytes.Equal(c.Cert.Raw, o.Cert.Raw) }

// newKeyAndSerial makes what every certificate the CA signs (itself
// included) starts with: a new ECDSA P-256 key and a random 127-bit serial
// number (RFC 5280 §4.1.2.2: positive, at most 20 octets, unpredictable).
func newKeyAndSerial() (*ecdsa.PrivateKey, *big.Int, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	return key, serial, nil
}
