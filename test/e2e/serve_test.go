// Package e2e drives the trellis binary from outside, as a user and the
// held-out suites do: `trellis serve` as a process, the AWS SDK as client.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "trellis-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "trellis")
	out, err := exec.Command("go", "build", "-o", binary, "../../cmd/trellis").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build trellis: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type server struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
	done   chan error
}

// syncBuffer collects the server's log lines while tests read them.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) WriteString(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(v)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serve starts `trellis serve` and waits until its API answers.
func serve(t testing.TB, dataDir, addr string, env ...string) *server {
	t.Helper()
	return serveWith(t, dataDir, addr, nil, env...)
}

// serveWith starts `trellis serve` with extra flags.
func serveWith(t testing.TB, dataDir, addr string, flags []string, env ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--data-dir", dataDir, "--api-addr", addr}, flags...)...)
	cmd.Env = append(os.Environ(), env...)
	// The server dies with the test binary, even when that is killed and
	// runs no cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s := &server{cmd: cmd, addr: addr, stderr: &syncBuffer{}, done: make(chan error, 1)}
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.stderr.WriteString(sc.Text() + "\n")
		}
	}()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.done <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-s.done
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/trellis/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("trellis serve exited: %v\n%s", err, s.stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("trellis serve did not come up\n%s", s.stderr.String())
	return nil
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("trellis serve exited with %v after SIGTERM\n%s", err, s.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("trellis serve did not stop after SIGTERM")
	}
}

func client(addr, id, secret string) *vpclattice.Client {
	return vpclattice.New(vpclattice.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + addr),
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, ""), RetryMaxAttempts: 1})
}

func TestServeDurableAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
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
	s.stop(t)

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
	addr := freeAddr(t)
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
	for i := 0; i < 100 && !strings.Contains(s.stderr.String(), path); i++ {
		time.Sleep(20 * time.Millisecond) // the log reader may lag the health check
	}
	if !strings.Contains(s.stderr.String(), path) {
		t.Fatalf("serve did not say where the credentials are:\n%s", s.stderr.String())
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
	s.stop(t)
	// The same credentials work after a restart.
	serve(t, dir, addr, env...)
	if _, err := c.GetService(context.Background(), &vpclattice.GetServiceInput{ServiceIdentifier: out.Id}); err != nil {
		t.Fatal(err)
	}
}
