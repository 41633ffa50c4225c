package serveproc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
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
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
)

const (
	// Region is the region the helpers sign for: trellis serve's default
	// (docs/deployment.md), which every suite runs with.
	Region = "us-east-1"
	// service is the SigV4 signing name of the Lattice API, which the
	// Trellis-native endpoints share (docs/api.md).
	service = "vpc-lattice"
	// upTimeout bounds the wait for a started server's API.
	upTimeout = 20 * time.Second
	// stopTimeout bounds Stop's wait for an exit after SIGTERM.
	stopTimeout = 20 * time.Second
	// cleanupTimeout bounds the cleanup's wait after SIGTERM, before SIGKILL.
	cleanupTimeout = 15 * time.Second
	// tailBytes is how much of a server's log a failed test shows.
	tailBytes = 16 << 10
)

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// Binary answers the path of a trellis binary built from this module's
// cmd/trellis, once per test binary: the first caller pays for the build
// (outside any timeout it sets after), the others reuse it, and a failed
// build fails every caller.
func Binary(t testing.TB) string {
	t.Helper()
	build.once.Do(func() { build.bin, build.err = buildTrellis() })
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.bin
}

func buildTrellis() (string, error) {
	// The module root from go itself: the build does not depend on how
	// deep below it the calling package sits.
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(gomod))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("go env GOMOD: not inside a module")
	}
	root := filepath.Dir(mod)
	build.dir, err = os.MkdirTemp("", "trellis-serveproc")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(build.dir, "trellis")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/trellis")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build trellis: %v\n%s", err, out)
	}
	return bin, nil
}

// Main runs the tests and removes the binary Binary built; a package that
// calls Binary uses it as its TestMain: os.Exit(serveproc.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
	return code
}

// FreeAddr answers a loopback TCP address nothing listens on now. The port
// is free when answered, not reserved: the process given it binds it soon.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Buffer collects a process's output while tests read it: an io.Writer
// safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String answers everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Tail answers the last n bytes written (all of them if fewer).
func (b *Buffer) Tail(n int) string {
	s := b.String()
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Options say how to start `trellis serve`.
type Options struct {
	// Binary is the trellis binary; "" builds one (Binary).
	Binary string
	// DataDir is --data-dir; "" is a fresh t.TempDir().
	DataDir string
	// Addr is --api-addr; "" is a FreeAddr.
	Addr string
	// Flags come after --data-dir and --api-addr.
	Flags []string
	// Env is added to the test's environment (later entries win).
	Env []string
	// Name labels the server in failure messages; "" is its address.
	Name string
	// KillAtEnd makes the cleanup send SIGKILL at once rather than
	// SIGTERM first: for suites that check graceful shutdown with Stop
	// themselves and should not wait for one after every test.
	KillAtEnd bool
}

// Server is one running `trellis serve`.
type Server struct {
	// Addr is its API address, URL "http://"+Addr.
	Addr string
	URL  string
	// Log is its standard output and error.
	Log *Buffer

	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // cmd.Wait's, once done is closed
}

// Start starts `trellis serve --data-dir D --api-addr A FLAGS...` and
// returns once GET /trellis/health answers 200. When the test ends the
// process gets SIGTERM, then SIGKILL if it has not exited in time (or
// SIGKILL at once: Options.KillAtEnd); a failed test shows the tail of its
// log.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Binary == "" {
		o.Binary = Binary(t)
	}
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	if o.Addr == "" {
		o.Addr = FreeAddr(t)
	}
	if o.Name == "" {
		o.Name = "trellis serve on " + o.Addr
	}
	cmd := exec.Command(o.Binary, append([]string{"serve", "--data-dir", o.DataDir, "--api-addr", o.Addr}, o.Flags...)...)
	cmd.Env = append(os.Environ(), o.Env...)
	// The server dies with the test binary, even when that is killed and
	// runs no cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s := &Server{Addr: o.Addr, URL: "http://" + o.Addr, Log: &Buffer{}, name: o.Name, cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.Log, s.Log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.err = cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		select {
		case <-s.done:
		default:
			if o.KillAtEnd {
				_ = cmd.Process.Kill()
				<-s.done
				break
			}
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.done:
			case <-time.After(cleanupTimeout):
				_ = cmd.Process.Kill()
				<-s.done
			}
		}
		if t.Failed() {
			t.Logf("%s: log (last %d KiB):\n%s", s.name, tailBytes>>10, s.Log.Tail(tailBytes))
		}
	})
	for deadline := time.Now().Add(upTimeout); time.Now().Before(deadline); {
		if resp, err := http.Get(s.URL + "/trellis/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-s.done:
			t.Fatalf("%s exited: %v\n%s", s.name, s.err, s.Log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("%s did not come up in %v\n%s", s.name, upTimeout, s.Log.String())
	return nil
}

// Stop sends SIGTERM and fails the test unless the server exits cleanly
// (status 0) in time.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
		if s.err != nil {
			t.Fatalf("%s exited with %v after SIGTERM\n%s", s.name, s.err, s.Log.Tail(tailBytes))
		}
	case <-time.After(stopTimeout):
		t.Fatalf("%s did not stop in %v after SIGTERM", s.name, stopTimeout)
	}
}

// Kill stops the server with SIGKILL, no shutdown of any kind, and waits
// for it to be gone.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-s.done
}

// Lattice answers an AWS SDK client of the Lattice API at endpoint
// ("http://host:port") with a static key; opts adjust it (the SDK's
// defaults otherwise, retries included).
func Lattice(endpoint, keyID, secret string, opts ...func(*vpclattice.Options)) *vpclattice.Client {
	return vpclattice.New(vpclattice.Options{Region: Region, BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(keyID, secret, "")}, opts...)
}

// Call sends a Trellis-native request, as the CLI does: method to
// endpoint+"/trellis/v1/"+path, SigV4-signed with the key for vpc-lattice
// in Region, body JSON-encoded when not nil. It answers the status and the
// body; an error only when no answer came.
func Call(ctx context.Context, endpoint, keyID, secret, method, path string, body any) (int, []byte, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return 0, nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, endpoint+"/trellis/v1/"+path, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	sum := sha256.Sum256(payload)
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}, req,
		hex.EncodeToString(sum[:]), service, Region, time.Now()); err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}
