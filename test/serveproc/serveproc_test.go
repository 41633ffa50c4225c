package serveproc

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

const (
	keyID  = "AKIASERVEPROCTEST001"
	secret = "serveproc-secret-key"
)

// TestStartCallStop: a started server answers its API at once, a signed
// native call with the right key is served and one with a wrong secret is
// refused, the SDK client reaches it, and Stop leaves nothing listening.
func TestStartCallStop(t *testing.T) {
	s := Start(t, Options{
		Flags: []string{"--ingress-cidr", "127.178.0.0/16", "--dns-port", "0"},
		Env:   []string{"TRELLIS_ROOT_ACCESS_KEY_ID=" + keyID, "TRELLIS_ROOT_SECRET_ACCESS_KEY=" + secret},
	})
	if s.URL != "http://"+s.Addr {
		t.Fatalf("URL %q, Addr %q", s.URL, s.Addr)
	}
	ctx := context.Background()
	const vpc = "vpc-0000000000000c0de"
	if st, b, err := Call(ctx, s.URL, keyID, secret, "PUT", "vpcs/"+vpc, map[string]any{"mode": "host"}); err != nil || st/100 != 2 {
		t.Fatalf("PUT vpcs/%s: %d %s %v", vpc, st, b, err)
	}
	st, b, err := Call(ctx, s.URL, keyID, secret, "GET", "vpcs/"+vpc, nil)
	var v struct{ VpcID, Mode string }
	if err != nil || st != http.StatusOK || json.Unmarshal(b, &v) != nil || v.VpcID != vpc || v.Mode != "host" {
		t.Fatalf("GET vpcs/%s: %d %s %v", vpc, st, b, err)
	}
	if st, b, err := Call(ctx, s.URL, keyID, "wrong", "GET", "vpcs/"+vpc, nil); err != nil || st != http.StatusForbidden {
		t.Fatalf("GET with a wrong secret: %d %s %v", st, b, err)
	}
	if _, err := Lattice(s.URL, keyID, secret).ListServices(ctx, &vpclattice.ListServicesInput{}); err != nil {
		t.Fatal(err)
	}
	s.Stop(t)
	if c, err := net.Dial("tcp", s.Addr); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after Stop", s.Addr)
	}
}

// TestKill: Kill ends the process by SIGKILL, not by a clean exit.
func TestKill(t *testing.T) {
	s := Start(t, Options{Flags: []string{"--ingress-cidr", "127.178.0.0/16", "--dns-port", "0"}})
	s.Kill(t)
	if s.err == nil || !strings.Contains(s.err.Error(), "killed") {
		t.Fatalf("after Kill: %v", s.err)
	}
}

// TestStartSameDataDir: Options.DataDir and Addr are used as given, so a
// second server can take over the first one's data directory and address.
func TestStartSameDataDir(t *testing.T) {
	dir, addr := t.TempDir(), FreeAddr(t)
	o := Options{DataDir: dir, Addr: addr, Flags: []string{"--ingress-cidr", "127.178.0.0/16", "--dns-port", "0"},
		Env: []string{"TRELLIS_ROOT_ACCESS_KEY_ID=", "TRELLIS_ROOT_SECRET_ACCESS_KEY="}}
	s := Start(t, o)
	if s.Addr != addr {
		t.Fatalf("Addr %s, want %s", s.Addr, addr)
	}
	if _, err := os.Stat(dir + "/credentials.json"); err != nil {
		t.Fatalf("the server did not use the data directory given: %v", err)
	}
	s.Stop(t)
	Start(t, o).Stop(t)
}

func TestFreeAddr(t *testing.T) {
	addr := FreeAddr(t)
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		t.Fatalf("FreeAddr %q: %v", addr, err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("FreeAddr %s is not free: %v", addr, err)
	}
	ln.Close()
}

// TestBuffer: concurrent writers and readers (run with -race), and Tail.
func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 100 {
				fmt.Fprintf(&b, "%d-%d\n", i, j)
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 400 {
		t.Fatalf("%d lines, want 400", n)
	}
	var c Buffer
	c.Write([]byte("abcdef"))
	if c.Tail(3) != "def" || c.Tail(10) != "abcdef" {
		t.Fatalf("Tail: %q %q", c.Tail(3), c.Tail(10))
	}
}

// TestCleanup: a test's end stops its server with SIGTERM (a clean exit),
// or with SIGKILL when Options.KillAtEnd says so.
func TestCleanup(t *testing.T) {
	for _, kill := range []bool{false, true} {
		var s *Server
		t.Run(fmt.Sprintf("KillAtEnd=%v", kill), func(t *testing.T) {
			s = Start(t, Options{Flags: []string{"--ingress-cidr", "127.178.0.0/16", "--dns-port", "0"}, KillAtEnd: kill})
		})
		select {
		case <-s.done:
		default:
			t.Fatalf("KillAtEnd=%v: the server runs on after its test", kill)
		}
		if killed := s.err != nil && strings.Contains(s.err.Error(), "killed"); killed != kill || (!kill && s.err != nil) {
			t.Fatalf("KillAtEnd=%v: the server ended with %v", kill, s.err)
		}
	}
}
