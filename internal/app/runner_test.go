package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunnersCloseInReverse: runners close last started first; each one's
// ctx ends before its close, and its loops have returned when closeAll
// moves on to the runner before it.
func TestRunnersCloseInReverse(t *testing.T) {
	var order []string
	var rs runners
	var loopsDone atomic.Int32
	for _, name := range []string{"store", "watcher", "ingress"} {
		err := rs.start(runner{name: name,
			start: func(ctx context.Context, g *loops) error {
				g.Go(func() { <-ctx.Done(); time.Sleep(10 * time.Millisecond); loopsDone.Add(1) })
				return nil
			},
			close: func(context.Context) error { order = append(order, name); return nil }})
		if err != nil {
			t.Fatal(err)
		}
	}
	// The close of "watcher" must see the loop of "ingress" done.
	rs.up[1].close = func(context.Context) error {
		order = append(order, "watcher")
		if got := loopsDone.Load(); got != 1 {
			t.Errorf("watcher closed with %d loops done; want the ingress's loop finished first", got)
		}
		return nil
	}
	if err := rs.closeAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []string{"ingress", "watcher", "store"}; !slices.Equal(order, want) {
		t.Fatalf("close order %v, want %v", order, want)
	}
	if loopsDone.Load() != 3 {
		t.Fatalf("%d loops done after closeAll, want 3", loopsDone.Load())
	}
}

// TestRunnersErrorsNamed: a failed start names its runner and starts
// nothing; close errors are joined, each named.
func TestRunnersErrorsNamed(t *testing.T) {
	var rs runners
	boom := errors.New("boom")
	if err := rs.start(runner{name: "dns", start: func(context.Context, *loops) error { return boom }}); !errors.Is(err, boom) || err.Error() != "dns: boom" {
		t.Fatalf("start error %v, want \"dns: boom\"", err)
	}
	if len(rs.up) != 0 {
		t.Fatalf("a failed runner was kept: %d up", len(rs.up))
	}
	for _, n := range []string{"a", "b"} {
		_ = rs.start(runner{name: n, start: func(context.Context, *loops) error { return nil },
			close: func(context.Context) error { return errors.New("bad " + n) }})
	}
	err := rs.closeAll(context.Background())
	if err == nil || err.Error() != "b: bad b\na: bad a" {
		t.Fatalf("close errors %q, want both named, last started first", err)
	}
}

// TestStartFailureReleasesEverything: when a late part cannot start (the
// API address is taken), Start closes what it had started — the store
// among them, whose file lock would otherwise keep the next start out.
func TestStartFailureReleasesEverything(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	cfg := Config{DataDir: dir, APIAddr: taken.Addr().String(), Logger: slog.New(slog.DiscardHandler),
		Getenv: func(string) string { return "" }}
	if _, err := Start(context.Background(), cfg); err == nil {
		t.Fatal("Start succeeded on a taken API address")
	}
	cfg.APIAddr = "127.0.0.1:0"
	a, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("second Start on the same data directory: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRunnersCloseBounded: a loop that does not return (stuck on a call to
// a store that is away) holds closeAll up to ctx's end, not longer; the
// runners before it are still closed, and the error names it.
func TestRunnersCloseBounded(t *testing.T) {
	var rs runners
	var storeClosed atomic.Bool
	release := make(chan struct{})
	defer close(release)
	_ = rs.start(runner{name: "store", close: func(context.Context) error { storeClosed.Store(true); return nil }})
	_ = rs.start(runner{name: "elected-work", start: func(ctx context.Context, g *loops) error {
		g.Go(func() { <-release })
		return nil
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := rs.closeAll(ctx)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("closeAll took %v with a 200ms bound", d)
	}
	if err == nil || !strings.Contains(err.Error(), "elected-work") || !storeClosed.Load() {
		t.Fatalf("closeAll: %v, store closed %v", err, storeClosed.Load())
	}
}
