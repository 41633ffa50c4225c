package embedded

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/store"
)

// crashChildEnv makes the test binary a writer that a test kills.
const crashChildEnv = "TRELLIS_EMBEDDED_CRASH_CHILD"

// TestMain runs the crash child when asked to.
func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	os.Exit(m.Run())
}

// crashChild writes from 8 goroutines until it is killed, printing each
// key once its Update has returned (acknowledged).
func crashChild(path string) {
	s, err := Open(path)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				k := fmt.Sprintf("k/%d/%06d", w, i)
				if _, err := s.Update(context.Background(), func(tx store.Tx) error { return tx.Put(k, []byte(k)) }); err != nil {
					return
				}
				mu.Lock()
				fmt.Fprintln(out, "ack", k)
				out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestCrashKeepsAcknowledged: a process killed with SIGKILL in the middle
// of concurrent (group-committed) writes loses none that Update had
// acknowledged. (A killed process keeps what reached the kernel; this
// catches an acknowledgement before the commit, not a missing fsync, which
// only a power cut would show.)
func TestCrashKeepsAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	path := filepath.Join(t.TempDir(), "trellis.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	var acked []string
	sc := bufio.NewScanner(stdout)
	deadline := time.Now().Add(20 * time.Second)
	for len(acked) < 400 && sc.Scan() {
		line := sc.Text()
		k, ok := strings.CutPrefix(line, "ack ")
		if !ok {
			t.Fatalf("child: %s", line)
		}
		acked = append(acked, k)
		if time.Now().After(deadline) {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed = true
	// Acknowledgements the child printed before it died count too.
	for sc.Scan() {
		if k, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			acked = append(acked, k)
		}
	}
	_ = cmd.Wait()
	if len(acked) < 50 {
		t.Fatalf("only %d writes acknowledged before the kill", len(acked))
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rev, _ := s.Revision(context.Background())
	if rev < int64(len(acked)) {
		t.Fatalf("revision %d after %d acknowledged writes", rev, len(acked))
	}
	_ = s.View(context.Background(), func(tx store.ReadTx) error {
		for _, k := range acked {
			if v, ok, _ := tx.Get(k); !ok || string(v) != k {
				t.Errorf("acknowledged %s lost after the kill", k)
			}
		}
		return nil
	})
	t.Logf("%d acknowledged writes survived SIGKILL (revision %d)", len(acked), rev)
}
