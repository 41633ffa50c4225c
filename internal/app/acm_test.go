package app_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/acm"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/ca"
)

func acmClient(s *apptest.Server) *acm.Client {
	return acm.New(acm.Options{Region: s.Region, BaseEndpoint: aws.String(s.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, ""), RetryMaxAttempts: 1})
}

// snapshotCert waits until the data plane's snapshot has the certificate.
func snapshotCert(t *testing.T, a *app.App, arn string) *tls.Certificate {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c := a.Snapshot().Certificates[arn]; c != nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("certificate %s never reached the snapshot", arn)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// handshake serves cert on loopback and connects with a Go TLS client
// that trusts only roots, asking for serverName.
func handshake(t *testing.T, cert *tls.Certificate, roots *x509.CertPool, serverName string) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{*cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_ = c.(*tls.Conn).Handshake()
		c.Close()
	}()
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, ServerName: serverName})
	if err != nil {
		return err
	}
	return c.Close()
}

// A requested certificate, served from the snapshot, verifies against the
// CA of GET /trellis/v1/certificate-authority; the CA and the certificates
// survive a restart.
func TestACMCertificatesTLSAndRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, err := app.Start(context.Background(), app.Config{DataDir: dir, APIAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	r := a.Root()
	s1 := &apptest.Server{App: a, Endpoint: "http://" + a.APIAddr(), AccessKeyID: r.AccessKeyID,
		SecretAccessKey: r.SecretAccessKey, Region: a.Region(), Account: r.Account, DataDir: dir}
	c := acmClient(s1)
	req, err := c.RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String("api.example.com"),
		SubjectAlternativeNames: []string{"*.api.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	issuer, _, _, err := ca.Load(t.TempDir(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := issuer.Issue("shop.example.com", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	imp, err := c.ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: leaf.CertPEM, PrivateKey: leaf.KeyPEM, CertificateChain: issuer.CertPEM})
	if err != nil {
		t.Fatal(err)
	}

	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(getCA(t, s1))) {
		t.Fatal("the CA does not parse")
	}
	cert := snapshotCert(t, a, aws.ToString(req.CertificateArn))
	for _, name := range []string{"api.example.com", "v2.api.example.com"} {
		if err := handshake(t, cert, roots, name); err != nil {
			t.Errorf("handshake for %s: %v", name, err)
		}
	}
	if err := handshake(t, cert, roots, "other.example.com"); err == nil {
		t.Error("the certificate verified for a name it does not cover")
	}
	// The imported one chains to its own issuer, not to the installation CA.
	impCert := snapshotCert(t, a, aws.ToString(imp.CertificateArn))
	if err := handshake(t, impCert, roots, "shop.example.com"); err == nil {
		t.Error("an imported certificate of another CA verified against the installation CA")
	}
	if err := handshake(t, impCert, issuer.Pool(), "shop.example.com"); err != nil {
		t.Errorf("imported certificate against its issuer: %v", err)
	}
	before := map[string]string{}
	for _, arn := range []*string{req.CertificateArn, imp.CertificateArn} {
		g, err := c.GetCertificate(ctx, &acm.GetCertificateInput{CertificateArn: arn})
		if err != nil {
			t.Fatal(err)
		}
		before[*arn] = aws.ToString(g.Certificate) + aws.ToString(g.CertificateChain)
	}
	caBefore := getCA(t, s1)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := apptest.StartWith(t, apptest.Options{DataDir: dir})
	if getCA(t, s2) != caBefore {
		t.Fatal("the CA changed across the restart")
	}
	c2 := acmClient(s2)
	for arn, want := range before {
		g, err := c2.GetCertificate(ctx, &acm.GetCertificateInput{CertificateArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("after restart: %v", err)
		}
		if aws.ToString(g.Certificate)+aws.ToString(g.CertificateChain) != want {
			t.Errorf("%s changed across the restart", arn)
		}
	}
	if err := handshake(t, snapshotCert(t, s2.App, aws.ToString(req.CertificateArn)), roots, "api.example.com"); err != nil {
		t.Errorf("after restart: %v", err)
	}
	// A deleted certificate leaves the snapshot.
	if _, err := c2.DeleteCertificate(ctx, &acm.DeleteCertificateInput{CertificateArn: imp.CertificateArn}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s2.App.Snapshot().Certificates[aws.ToString(imp.CertificateArn)] != nil {
		if time.Now().After(deadline) {
			t.Fatal("a deleted certificate stayed in the snapshot")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
