// Package etcdtest starts real etcd servers for tests: the `etcd` binary
// (Debian's etcd-server package), one member or a cluster, on loopback
// ports chosen per test, with data in the test's temporary directory, and
// stops them when the test ends. Tests skip, saying why, when the binary is
// missing. It imports nothing of Trellis.
package etcdtest

import (
	"bytes"
	"fmt"
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
)

// Member is one etcd process.
type Member struct {
	Name      string
	ClientURL string // http://127.0.0.1:PORT
	PeerURL   string
	Dir       string

	mu   sync.Mutex
	cmd  *exec.Cmd
	log  *os.File
	bin  string
	args []string
}

// Cluster is a running etcd cluster.
type Cluster struct {
	Members []*Member
}

// Endpoints are the members' client URLs.
func (c *Cluster) Endpoints() []string {
	var eps []string
	for _, m := range c.Members {
		eps = append(eps, m.ClientURL)
	}
	return eps
}

// Binary returns the path of `etcd`, skipping the test when it is missing.
func Binary(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("etcd is not installed (apt-get install etcd-server): skipping the tests on a real etcd")
	}
	return p
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start starts a single-member cluster.
func Start(t testing.TB) *Cluster { return StartCluster(t, 1) }

// StartCluster starts n members and waits until each is healthy (the
// cluster has a leader).
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	bin := Binary(t)
	c := &Cluster{}
	var initial []string
	for i := range n {
		m := &Member{Name: fmt.Sprintf("m%d", i), ClientURL: fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
			PeerURL: fmt.Sprintf("http://127.0.0.1:%d", freePort(t)), Dir: filepath.Join(t.TempDir(), "etcd")}
		c.Members = append(c.Members, m)
		initial = append(initial, m.Name+"="+m.PeerURL)
	}
	token := fmt.Sprintf("trellis-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	for _, m := range c.Members {
		args := []string{"--name", m.Name, "--data-dir", m.Dir,
			"--listen-client-urls", m.ClientURL, "--advertise-client-urls", m.ClientURL,
			"--listen-peer-urls", m.PeerURL, "--initial-advertise-peer-urls", m.PeerURL,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", token,
			// Trellis's transactions may hold more than etcd's default
			// 128 operations (docs/etcd.md).
			"--max-txn-ops", "10000", "--max-request-bytes", "10485760",
			"--logger", "zap", "--log-level", "warn"}
		log, err := os.Create(filepath.Join(t.TempDir(), m.Name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		m.log, m.bin, m.args = log, bin, args
		if err := m.run(); err != nil {
			t.Fatalf("start etcd: %v", err)
		}
		t.Cleanup(func() {
			m.Kill()
			if t.Failed() {
				b, _ := os.ReadFile(log.Name())
				t.Logf("etcd %s log (last 4 KiB):\n%s", m.Name, tail(b, 4096))
			}
			log.Close()
		})
	}
	for _, m := range c.Members {
		if err := m.waitHealthy(20 * time.Second); err != nil {
			b, _ := os.ReadFile(m.log.Name())
			t.Fatalf("etcd %s: %v\n%s", m.Name, err, tail(b, 4096))
		}
	}
	return c
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// waitHealthy polls the member's /health until it answers true.
func (m *Member) waitHealthy(d time.Duration) error {
	deadline := time.Now().Add(d)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(m.ClientURL + "/health")
		if err == nil {
			var b bytes.Buffer
			_, _ = b.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.Contains(b.String(), `"health":"true"`) {
				return nil
			}
			err = fmt.Errorf("status %d: %s", resp.StatusCode, b.String())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not healthy after %v: %v", d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// run starts the member's process; m.mu is held or the member is not
// shared yet.
func (m *Member) run() error {
	cmd := exec.Command(m.bin, m.args...)
	cmd.Stdout, cmd.Stderr = m.log, m.log
	// The member dies with the test binary, even when the test binary is
	// killed and runs no cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	m.cmd = cmd
	return nil
}

// Stop stops the member gracefully (SIGTERM: it closes its connections and
// syncs its data) and waits for it, at most 10 seconds before SIGKILL; its
// data directory stays for Restart.
func (m *Member) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = m.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-done
	}
	m.cmd = nil
}

// Running reports whether the member's process runs (not stopped or
// killed).
func (m *Member) Running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cmd != nil
}

// Restart starts a stopped or killed member again on the same ports and
// data directory (it keeps its data and rejoins its cluster), and waits
// until it is healthy (in a cluster: until it has a leader, so restart a
// quorum's worth of members before waiting on one). A running member is
// left as it is.
func (m *Member) Restart(t testing.TB) {
	t.Helper()
	m.mu.Lock()
	if m.cmd == nil {
		if err := m.run(); err != nil {
			m.mu.Unlock()
			t.Fatalf("restart etcd %s: %v", m.Name, err)
		}
	}
	m.mu.Unlock()
	if err := m.waitHealthy(20 * time.Second); err != nil {
		b, _ := os.ReadFile(m.log.Name())
		t.Fatalf("etcd %s: %v\n%s", m.Name, err, tail(b, 4096))
	}
}

// Kill stops the member with SIGKILL (no clean shutdown) and waits for
// it; its data directory stays.
func (m *Member) Kill() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	_ = m.cmd.Wait()
	m.cmd = nil
}
