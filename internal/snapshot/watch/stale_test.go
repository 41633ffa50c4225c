package watch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/embedded"
	"github.com/trellis-net/trellis/internal/store/schema"
)

// away is a real embedded store that, while down, answers what an etcd
// store out of reach answers (store.ErrUnavailable) and tells its
// watchers nothing: the writes another node commits meanwhile (made on
// the inner store) reach the watcher only if it catches up by itself.
type away struct {
	store.Store
	down atomic.Bool
	deaf atomic.Bool // reachable, but its watch tells nothing
}

func (a *away) err() error { return fmt.Errorf("%w: test: the store is away", store.ErrUnavailable) }

func (a *away) View(ctx context.Context, fn func(store.ReadTx) error) error {
	if a.down.Load() {
		return a.err()
	}
	return a.Store.View(ctx, fn)
}

func (a *away) Update(ctx context.Context, fn func(store.Tx) error) (int64, error) {
	if a.down.Load() {
		return 0, a.err()
	}
	return a.Store.Update(ctx, fn)
}

func (a *away) Revision(ctx context.Context) (int64, error) {
	if a.down.Load() {
		return 0, a.err()
	}
	return a.Store.Revision(ctx)
}

func (a *away) Watch(ctx context.Context) <-chan int64 {
	in := a.Store.Watch(ctx)
	out := make(chan int64, 1)
	go func() {
		defer close(out)
		for rev := range in {
			if !a.down.Load() && !a.deaf.Load() {
				store.SendLatest(out, rev)
			}
		}
	}()
	return out
}

// logBuffer is a slog handler's output, safe to read while written.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func putService(t *testing.T, st store.Store, id, name string) int64 {
	t.Helper()
	b, _ := json.Marshal(&model.Service{Meta: model.Meta{ID: id, Account: "111122223333"}, Name: name})
	rev, err := st.Update(context.Background(), func(tx store.Tx) error { return tx.Put(schema.Service+id, b) })
	if err != nil {
		t.Fatal(err)
	}
	return rev
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func openAway(t *testing.T) (*away, store.Store) {
	inner, err := embedded.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inner.Close() })
	return &away{Store: inner}, inner
}

// TestWatcherStaleAndCatchUp: the store goes away; the snapshot stays
// published, becomes stale (metric, one Warn line), and when the store
// returns the watcher catches up by probing the revision although the
// watch told it nothing, and says so (Info, and staleness back to 0).
func TestWatcherStaleAndCatchUp(t *testing.T) {
	st, inner := openAway(t)
	logs := &logBuffer{}
	holder := &snapshot.Holder{}
	w := &Watcher{Store: st, Holder: holder, Probe: 20 * time.Millisecond, Refresh: time.Hour,
		Logger: slog.New(slog.NewTextHandler(logs, nil))}
	rev := putService(t, st, "svc-00000000000000001", "a")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the store confirmed reachable", func() bool { return w.StoreReachable() && w.Staleness() == 0 })
	if holder.Load().Revision != rev {
		t.Fatalf("revision %d, want %d", holder.Load().Revision, rev)
	}

	st.down.Store(true)
	waitFor(t, "the store seen unreachable", func() bool { return !w.StoreReachable() })
	// Another node writes meanwhile; this watcher hears nothing of it.
	rev2 := putService(t, inner, "svc-00000000000000002", "b")
	time.Sleep(150 * time.Millisecond) // probes fail
	if s := holder.Load(); s == nil || s.Revision != rev {
		t.Fatalf("the snapshot changed while the store was away: %+v", s)
	}
	if d := w.Staleness(); d < 100*time.Millisecond {
		t.Fatalf("staleness %v after 150ms away", d)
	}
	if n := strings.Count(logs.String(), "the store is unreachable"); n != 1 {
		t.Fatalf("%d lines saying the store is unreachable, want 1:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), fmt.Sprint("revision=", rev)) {
		t.Fatalf("the stale line is not a Warn naming the revision:\n%s", logs)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("an outage logged as errors:\n%s", logs)
	}

	st.down.Store(false)
	waitFor(t, "the catch-up to the other node's write", func() bool { return holder.Load().Revision == rev2 })
	waitFor(t, "staleness back to 0", func() bool { return w.Staleness() == 0 && w.StoreReachable() })
	if !strings.Contains(logs.String(), "caught up with the store") || !strings.Contains(logs.String(), "stale_for=") {
		t.Fatalf("no Info line on the catch-up:\n%s", logs)
	}
}

// TestWatcherCatchesUpAMissedWatch: the store stays reachable but its
// watch misses a write (a broken watch stream): the probes find the
// revision standing ahead of the snapshot and compile it.
func TestWatcherCatchesUpAMissedWatch(t *testing.T) {
	st, _ := openAway(t)
	holder := &snapshot.Holder{}
	w := &Watcher{Store: st, Holder: holder, Probe: 20 * time.Millisecond, Refresh: time.Hour,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	putService(t, st, "svc-00000000000000001", "a")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	st.deaf.Store(true)
	rev := putService(t, st, "svc-00000000000000002", "b")
	waitFor(t, "the probes to compile the missed write", func() bool { return holder.Load().Revision == rev })
	waitFor(t, "the snapshot confirmed current", func() bool { return w.Staleness() == 0 && w.StoreReachable() })
}

// TestCacheStartsTheNode: the watcher's local copy follows the store (only
// the changed keys, deletions too) and loads into the same state as the
// store; a watcher started from it while the store is away serves the
// copy's revision, stale since the copy was current, and follows the store
// once it returns.
func TestCacheStartsTheNode(t *testing.T) {
	st, _ := openAway(t)
	dir := t.TempDir()
	path := filepath.Join(dir, CacheFile)
	cache, err := OpenCache(path, "test /a/", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	holder := &snapshot.Holder{}
	w := &Watcher{Store: st, Holder: holder, Cache: cache, Probe: 20 * time.Millisecond}
	putService(t, st, "svc-00000000000000001", "a")
	putService(t, st, "svc-00000000000000002", "b")
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	putService(t, st, "svc-00000000000000003", "c")
	if _, err := st.Update(ctx, func(tx store.Tx) error { return tx.Delete(schema.Service + "svc-00000000000000001") }); err != nil {
		t.Fatal(err)
	}
	rev := putService(t, st, "svc-00000000000000002", "b2")
	waitFor(t, "the last write compiled", func() bool { return holder.Load().Revision == rev })
	if w.loader.Full != 1 {
		t.Fatalf("%d full loads: the copy must follow the incremental ones", w.loader.Full)
	}
	if err := cache.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, _, ok := cache.Info(); !ok || got != rev {
		t.Fatalf("copy at revision %d (%v), want %d", got, ok, rev)
	}
	var fromStore, fromCopy *snapshot.State
	if err := st.View(ctx, func(tx store.ReadTx) error { var e error; fromStore, e = Load(tx); return e }); err != nil {
		t.Fatal(err)
	}
	if err := cache.View(func(tx store.ReadTx) error { var e error; fromCopy, e = Load(tx); return e }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromStore, fromCopy) {
		t.Fatalf("the copy loads otherwise than the store:\n%+v\n%+v", fromStore, fromCopy)
	}
	if err := cache.SetMeta("dns-token", "abc1234"); err != nil {
		t.Fatal(err)
	}
	cancel()
	time.Sleep(30 * time.Millisecond)
	if err := cache.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("copy file: %v %v, want mode 0600", fi.Mode(), err)
	}

	// A new node process: the store is away at start.
	st.down.Store(true)
	cache2, err := OpenCache(path, "test /a/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cache2.Close()
	if tok, ok := cache2.Meta("dns-token"); !ok || tok != "abc1234" {
		t.Fatalf("dns-token %q %v", tok, ok)
	}
	if _, _, ok := (&Cache{db: cache2.db, source: "test /other/"}).Info(); ok {
		t.Fatal("a copy of another source was offered")
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	holder2 := &snapshot.Holder{}
	logs := &logBuffer{}
	w2 := &Watcher{Store: st, Holder: holder2, Cache: cache2, FromCache: true, Probe: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, nil))}
	if err := w2.Start(ctx2); err != nil {
		t.Fatal(err)
	}
	snap := holder2.Load()
	if snap.Revision != rev || snap.ServiceNames.Len() != holder.Load().ServiceNames.Len() {
		t.Fatalf("started from the copy: revision %d, %d names; want %d, %d", snap.Revision, snap.ServiceNames.Len(),
			rev, holder.Load().ServiceNames.Len())
	}
	if w2.StoreReachable() || w2.Staleness() <= 0 {
		t.Fatalf("from the copy: reachable %v, staleness %v", w2.StoreReachable(), w2.Staleness())
	}
	if !strings.Contains(logs.String(), "serving the local copy") || !strings.Contains(logs.String(), fmt.Sprint("revision=", rev)) {
		t.Fatalf("no line saying the copy is served:\n%s", logs)
	}
	st.down.Store(false)
	waitFor(t, "the store followed", func() bool { return w2.Staleness() == 0 })
	rev2 := putService(t, st, "svc-00000000000000004", "d")
	waitFor(t, "a write after the return compiled", func() bool { return holder2.Load().Revision == rev2 })

	// No copy: Start from it fails clearly.
	empty, err := OpenCache(filepath.Join(dir, "other.db"), "test /a/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	w3 := &Watcher{Store: st, Holder: &snapshot.Holder{}, Cache: empty, FromCache: true}
	if err := w3.Start(ctx2); err == nil || !strings.Contains(err.Error(), "no local snapshot copy") {
		t.Fatalf("Start from no copy: %v", err)
	}
}

// TestWatcherFallsBackToCopy: a store that goes away between the caller's
// check and the first compile: the watcher starts from the copy and
// follows the store when it returns.
func TestWatcherFallsBackToCopy(t *testing.T) {
	st, _ := openAway(t)
	cache, err := OpenCache(filepath.Join(t.TempDir(), CacheFile), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	rev := putService(t, st, "svc-00000000000000001", "a")
	ctx, cancel := context.WithCancel(context.Background())
	w := &Watcher{Store: st, Holder: &snapshot.Holder{}, Cache: cache, Probe: 20 * time.Millisecond}
	if err := w.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := cache.Flush(); err != nil {
		t.Fatal(err)
	}
	st.down.Store(true)
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	h := &snapshot.Holder{}
	w2 := &Watcher{Store: st, Holder: h, Cache: cache, Probe: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
	if err := w2.Start(ctx2); err != nil {
		t.Fatalf("Start with the store away and a copy: %v", err)
	}
	if h.Load().Revision != rev || w2.Staleness() == 0 {
		t.Fatalf("revision %d (want %d), staleness %v", h.Load().Revision, rev, w2.Staleness())
	}
	st.down.Store(false)
	rev2 := putService(t, st, "svc-00000000000000002", "b")
	waitFor(t, "the store followed", func() bool { return h.Load().Revision == rev2 && w2.Staleness() == 0 })
	w3 := &Watcher{Store: st, Holder: &snapshot.Holder{}, Probe: 20 * time.Millisecond}
	st.down.Store(true)
	if err := w3.Start(ctx2); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Start with the store away and no copy: %v", err)
	}
}
