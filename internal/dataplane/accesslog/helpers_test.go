package accesslog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// fakeClock is a settable Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// logBuffer collects a Logger's warnings.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// count returns how many lines of the log contain s.
func (b *logBuffer) count(s string) int { return strings.Count(b.String(), s) }

// t0 is the fake clock's start: 2024-03-05 07:08:09 UTC, in the window
// starting at 07:05.
var t0 = time.Date(2024, 3, 5, 7, 8, 9, 0, time.UTC)

// newLogger returns a Logger writing under a new temporary directory, with
// a fake clock at t0 and a flusher that does not run on its own during a
// test; it is closed at the end of the test.
func newLogger(t testing.TB, cfg Config) (*Logger, *fakeClock, *logBuffer) {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(t.TempDir(), "logs")
	}
	clock := newClock(t0)
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = time.Hour
	}
	logs := &logBuffer{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l, clock, logs
}

func sub(id, resource, account, dest string) *snapshot.LogSubscription {
	return &snapshot.LogSubscription{ID: id, ARN: "arn:aws:vpc-lattice:us-east-1:" + account + ":accesslogsubscription/" + id,
		ResourceID: resource, Account: account, DestinationARN: dest}
}

func one(s *snapshot.LogSubscription) []*snapshot.LogSubscription {
	return []*snapshot.LogSubscription{s}
}

// entryFor is a small record told apart by its path.
func entryFor(path string) *Entry {
	return &Entry{Start: t0, Method: "GET", Path: path, Status: 200, GRPCStatus: -1, RequestToTarget: -1, ResponseFromTarget: -1}
}

// readRecords parses every line of a JSON lines file, or of a gzip
// object, failing on any line that is not a JSON object.
func readRecords(t *testing.T, name string) []map[string]any {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(name, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r = zr
	}
	var out []map[string]any
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: a line is not JSON: %v: %q", name, err, sc.Text())
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

// paths returns the requestPath of each record.
func paths(recs []map[string]any) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r["requestPath"].(string))
	}
	return out
}

// files lists the regular files under dir, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return out
}
