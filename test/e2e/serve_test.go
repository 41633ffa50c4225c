// Package e2e drives the trellis binary from outside, as a user and the
// held-out suites do: `trellis serve` as a process, the AWS SDK as client.
package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/test/serveproc"
)

func TestMain(m *testing.M) { os.Exit(serveproc.Main(m)) }

// serve starts `trellis serve` and waits until its API answers.
func serve(t testing.TB, dataDir, addr string, env ...string) *serveproc.Server {
	t.Helper()
	return serveWith(t, dataDir, addr, nil, env...)
}

// serveWith starts `trellis serve` with extra flags. The process is killed
// when the test ends: the tests that check graceful shutdown call Stop.
func serveWith(t testing.TB, dataDir, addr string, flags []string, env ...string) *serveproc.Server {
	t.Helper()
	return serveproc.Start(t, serveproc.Options{DataDir: dataDir, Addr: addr, Flags: flags, Env: env, KillAtEnd: true})
}

// client is a Lattice client that does not retry: a test sees the first
// answer.
func client(addr, id, secret string) *vpclattice.Client {
	return serveproc.Lattice("http://"+addr, id, secret, func(o *vpclattice.Options) { o.RetryMaxAttempts = 1 })
}

func TestServeDurableAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	addr := serveproc.FreeAddr(t)
	env := []string{"TRELLIS_ROOT_ACCESS_KEY_ID=AKIAE2ETEST000000001", "TRELLIS_ROOT_SECRET_ACCESS_KEY=e2e-secret-key"}
	s := serve(t, dir, addr, env...)
	c := client(addr, "AKIAE2ETEST000000001", "e2e-secret-key")
	ctx := context.Background()
	sn, err := c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("durable")})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: sn.Id, ServiceIdentifier: svc.Arn}); err != nil {
		t.Fatal(err)
	}
	// A wrong secret is rejected with the error the SDK knows.
	_, err = client(addr, "AKIAE2ETEST000000001", "wrong").ListServices(ctx, &vpclattice.ListServicesInput{})
	if err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Fatalf("wrong secret: %v", err)
	}
	s.Stop(t)

	serve(t, dir, addr, env...)
	got, err := c.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: svc.Id})
	if err != nil {
		t.Fatalf("service lost across restart: %v", err)
	}
	if *got.DnsEntry.DomainName != *svc.DnsEntry.DomainName {
		t.Fatalf("DNS name changed across restart: %s → %s", *svc.DnsEntry.DomainName, *got.DnsEntry.DomainName)
	}
	gsn, err := c.GetServiceNetwork(ctx, &vpclattice.GetServiceNetworkInput{ServiceNetworkIdentifier: sn.Arn})
	if err != nil || *gsn.NumberOfAssociatedServices != 1 {
		t.Fatalf("network after restart: %+v %v", gsn, err)
	}
	_, err = c.DeleteServiceNetwork(ctx, &vpclattice.DeleteServiceNetworkInput{ServiceNetworkIdentifier: sn.Id})
	var ce *types.ConflictException
	if err == nil || !asConflict(err, &ce) {
		t.Fatalf("delete guard after restart: %v", err)
	}
}

func TestServeGeneratesCredentials(t *testing.T) {
	dir := t.TempDir()
	addr := serveproc.FreeAddr(t)
	env := []string{"TRELLIS_ROOT_ACCESS_KEY_ID=", "TRELLIS_ROOT_SECRET_ACCESS_KEY="}
	s := serve(t, dir, addr, env...)
	path := filepath.Join(dir, "credentials.json")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file mode %v, want 0600", fi.Mode().Perm())
	}
	for i := 0; i < 100 && !strings.Contains(s.Log.String(), path); i++ {
		time.Sleep(20 * time.Millisecond) // the log reader may lag the health check
	}
	if !strings.Contains(s.Log.String(), path) {
		t.Fatalf("serve did not say where the credentials are:\n%s", s.Log.String())
	}
	var creds struct{ AccessKeyID, SecretAccessKey, Account string }
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &creds); err != nil {
		t.Fatal(err)
	}
	c := client(addr, creds.AccessKeyID, creds.SecretAccessKey)
	out, err := c.CreateService(context.Background(), &vpclattice.CreateServiceInput{Name: aws.String("gen")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(*out.Arn, ":"+creds.Account+":") {
		t.Fatalf("ARN %s is not in account %s", *out.Arn, creds.Account)
	}
	s.Stop(t)
	// The same credentials work after a restart.
	serve(t, dir, addr, env...)
	if _, err := c.GetService(context.Background(), &vpclattice.GetServiceInput{ServiceIdentifier: out.Id}); err != nil {
		t.Fatal(err)
	}
}
