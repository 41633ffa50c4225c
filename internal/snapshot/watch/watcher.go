package watch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/trellis-net/trellis/internal/snapshot"
	"github.com/trellis-net/trellis/internal/store"
)

// Watcher keeps a Holder current: it compiles the store's state at start
// and again after every committed change (debounced, so a burst of writes
// costs one compile), then tells its subscribers.
//
// Static stability: when the store cannot be reached, nothing is torn
// down — the last snapshot stays published and the data plane serves it.
// The watcher probes the store's revision every Probe; a probe that fails
// makes the snapshot stale (logged once, at Warn, with its revision and
// since when it was last confirmed current; Staleness, StoreReachable);
// the first probe after an outage that finds a revision other than the
// snapshot's compiles (the catch-up does not wait for the watch, which an
// etcd outage may have broken), as does one that finds the same revision
// ahead of the snapshot twice (a watch that missed it; a write in flight
// is the watch's to compile, after its debounce), and one that finds the
// snapshot's revision confirms it (logged at Info with
// how long it was stale). With a Cache it keeps a local copy of what each
// snapshot was compiled from, and FromCache starts from that copy.
type Watcher struct {
	Store    store.Store
	Holder   *snapshot.Holder
	Options  snapshot.Options
	Debounce time.Duration // default 5ms
	Logger   *slog.Logger
	// Refresh recompiles at least this often even without changes, so that
	// drained targets leave the snapshot (default: the drain time).
	Refresh time.Duration
	// OnPublish, when set, is told of every snapshot published: how long
	// loading and compiling it took, and the propagation lag — from the
	// store's notice of the first write it includes to its publication
	// (0 for the first snapshot and for periodic recompiles, which no
	// write started). Called on the compile loop; it must not block.
	OnPublish func(snap *snapshot.Snapshot, compile, lag time.Duration)
	// Probe is how often the store's revision is read to confirm the
	// snapshot or catch up with it (default time.Second); ProbeTimeout
	// bounds one probe (default 2 × Probe).
	Probe, ProbeTimeout time.Duration
	// Cache, when set, receives what each compile from the store read
	// (a data-plane node's local copy; nil with the embedded store).
	Cache *Cache
	// FromCache makes Start compile the first snapshot from Cache instead
	// of the store, which the caller found unreachable: the node serves
	// the copy's revision, stale since the copy was last current, and
	// follows the store once it answers.
	FromCache bool

	mu       sync.Mutex
	subs     []chan struct{}
	loader   Loader               // used only by the compile loop
	compiler snapshot.Incremental // likewise
	probed   int64                // the revision the last probe read (likewise)

	// What the watcher knows of the store (under st).
	st          sync.Mutex
	reachable   bool
	fresh       bool      // the snapshot was confirmed current at the last contact
	confirmedAt time.Time // the last time it was
	fromCopy    bool      // the snapshot was compiled from the Cache
}

// Subscribe returns a channel that receives a value after every swap
// (coalesced). Call before Start.
func (w *Watcher) Subscribe() <-chan struct{} {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	w.subs = append(w.subs, ch)
	w.mu.Unlock()
	return ch
}

// Name names the runner.
func (w *Watcher) Name() string { return "snapshot-watcher" }

// Start compiles the first snapshot synchronously, then follows the store
// until ctx ends.
func (w *Watcher) Start(ctx context.Context) error {
	if w.Debounce == 0 {
		w.Debounce = 5 * time.Millisecond
	}
	if w.Logger == nil {
		w.Logger = slog.Default()
	}
	if w.Refresh == 0 {
		w.Refresh = w.Options.DrainTime
		if w.Refresh <= 0 {
			w.Refresh = time.Minute
		}
	}
	if w.Probe <= 0 {
		w.Probe = time.Second
	}
	if w.ProbeTimeout <= 0 {
		w.ProbeTimeout = 2 * w.Probe
	}
	w.loader.Record = w.Cache != nil
	if w.FromCache {
		if err := w.compileCopy(); err != nil {
			return err
		}
		// The watch starts once the store answers (loop).
		go w.loop(ctx, nil)
		return nil
	}
	changes := w.Store.Watch(ctx)
	if err := w.compile(ctx, time.Time{}); err != nil {
		// The store went away since the caller found it: the copy, if
		// there is one, rather than no data plane.
		if w.Cache == nil || !errors.Is(err, store.ErrUnavailable) {
			return err
		}
		if cerr := w.compileCopy(); cerr != nil {
			return errors.Join(err, cerr)
		}
	}
	go w.loop(ctx, changes)
	return nil
}

// compileCopy compiles and publishes the Cache's copy.
func (w *Watcher) compileCopy() error {
	if w.Cache == nil {
		return errors.New("no local snapshot copy")
	}
	rev, at, ok := w.Cache.Info()
	if !ok {
		return fmt.Errorf("no local snapshot copy in %s", w.Cache.Path())
	}
	var st *snapshot.State
	err := w.Cache.View(func(tx store.ReadTx) error {
		var l Loader
		var err error
		st, err = l.Load(tx)
		return err
	})
	if err != nil {
		return fmt.Errorf("local snapshot copy %s: %w", w.Cache.Path(), err)
	}
	o := w.Options
	o.Now = time.Now()
	snap := snapshot.Compile(st, o)
	w.st.Lock()
	w.reachable, w.fresh, w.confirmedAt, w.fromCopy = false, false, at, true
	w.st.Unlock()
	w.Logger.Warn("snapshot: the store is unreachable; serving the local copy of an earlier snapshot",
		"revision", rev, "current_at", at.UTC().Format(time.RFC3339), "file", w.Cache.Path())
	w.publish(snap, 0, time.Time{})
	return nil
}

// StoreReachable reports whether the last contact with the store
// succeeded.
func (w *Watcher) StoreReachable() bool {
	w.st.Lock()
	defer w.st.Unlock()
	return w.reachable
}

// Staleness is how long since the snapshot served was last confirmed
// current with the store, 0 while it is (the last contact confirmed it).
func (w *Watcher) Staleness() time.Duration {
	w.st.Lock()
	defer w.st.Unlock()
	if w.fresh {
		return 0
	}
	return time.Since(w.confirmedAt)
}

// confirmed records a contact that found the snapshot current (at: when
// its view was read).
func (w *Watcher) confirmed(rev int64, at time.Time) {
	w.st.Lock()
	was := w.fresh
	since := w.confirmedAt
	w.reachable, w.fresh, w.confirmedAt, w.fromCopy = true, true, at, false
	w.st.Unlock()
	if !was && !since.IsZero() {
		w.Logger.Info("snapshot: caught up with the store", "revision", rev, "stale_for", at.Sub(since).Round(time.Millisecond))
	}
}

// failed records a contact or a compile that failed: the snapshot is
// stale from its last confirmation on (logged when it becomes so).
func (w *Watcher) failed(err error) {
	unreachable := errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
	w.st.Lock()
	was := w.fresh
	since := w.confirmedAt
	w.fresh = false
	if unreachable {
		w.reachable = false
	}
	w.st.Unlock()
	var rev int64
	if snap := w.Holder.Load(); snap != nil {
		rev = snap.Revision
	}
	switch {
	case was && unreachable:
		w.Logger.Warn("snapshot: the store is unreachable; serving the last snapshot, stale", "revision", rev,
			"current_at", since.UTC().Format(time.RFC3339Nano), "err", err)
	case !unreachable:
		w.Logger.Error("compile snapshot", "revision", rev, "err", err)
	}
}

// probe reads the store's revision: it confirms the snapshot, or says
// that a compile is due (the store moved, or the snapshot is the local
// copy's).
func (w *Watcher) probe(ctx context.Context) (compile bool) {
	pctx, cancel := context.WithTimeout(ctx, w.ProbeTimeout)
	at := time.Now()
	rev, err := w.Store.Revision(pctx)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			w.failed(err)
		}
		return false
	}
	w.st.Lock()
	wasReachable := w.reachable
	w.reachable = true
	copied := w.fromCopy
	w.st.Unlock()
	prev := w.probed
	w.probed = rev
	if snap := w.Holder.Load(); snap == nil || copied {
		return true
	} else if snap.Revision != rev {
		// Behind the store. The watch brings a write within its debounce:
		// compile here only when the watch may have missed it — the store
		// was out of reach, or the revision has not moved since the last
		// probe and the snapshot still has not followed. (Compiling at
		// every probe that meets a write in flight would compile twice.)
		return !wasReachable || rev == prev
	}
	w.confirmed(rev, at)
	return false
}

func (w *Watcher) loop(ctx context.Context, changes <-chan int64) {
	tick := time.NewTicker(w.Refresh)
	defer tick.Stop()
	probe := time.NewTicker(w.Probe)
	defer probe.Stop()
	for {
		var changedAt time.Time
		select {
		case <-ctx.Done():
			return
		case <-probe.C:
			if !w.probe(ctx) {
				continue
			}
			changedAt = time.Now()
			if changes == nil {
				// Started from the local copy: the store answers now.
				// Watch it, and read everything afresh (the copy's
				// revision may not be in this store's history: a
				// restored cluster), compiling in full.
				changes = w.Store.Watch(ctx)
				w.loader = Loader{Record: w.Cache != nil}
				w.compiler = snapshot.Incremental{}
			}
		case _, ok := <-changes:
			if !ok {
				return
			}
			changedAt = time.Now()
			// Debounce: let a burst of writes land, then compile once.
			timer := time.NewTimer(w.Debounce)
		drain:
			for {
				select {
				case <-changes:
				case <-timer.C:
					break drain
				case <-ctx.Done():
					timer.Stop()
					return
				}
			}
		case <-tick.C:
		}
		if changes == nil {
			continue // the periodic recompile waits for the store
		}
		if err := w.compile(ctx, changedAt); err != nil && ctx.Err() == nil {
			w.failed(err)
		}
	}
}

func (w *Watcher) compile(ctx context.Context, changedAt time.Time) error {
	start := time.Now()
	var st *snapshot.State
	err := w.Store.View(ctx, func(tx store.ReadTx) error {
		var err error
		st, err = w.loader.Load(tx)
		return err
	})
	if err != nil {
		return err
	}
	if w.Cache != nil {
		w.Cache.save(w.loader.batch(start))
	}
	o := w.Options
	o.Now = time.Now()
	snap := w.compiler.Compile(st, w.loader.Change(), &w.loader, o)
	w.confirmed(snap.Revision, start)
	w.publish(snap, time.Since(start), changedAt)
	return nil
}

// publish swaps snap in and tells the subscribers.
func (w *Watcher) publish(snap *snapshot.Snapshot, took time.Duration, changedAt time.Time) {
	prev := w.Holder.Load()
	w.Holder.Store(snap)
	w.logWarnings(prev, snap)
	w.Logger.Debug("snapshot compiled", "revision", snap.Revision, "took", took)
	if f := w.OnPublish; f != nil {
		var lag time.Duration
		if !changedAt.IsZero() {
			lag = time.Since(changedAt)
		}
		f(snap, took, lag)
	}
	w.mu.Lock()
	for _, ch := range w.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	w.mu.Unlock()
}

// logWarnings logs what snap left out of the state (Snapshot.Warnings)
// that the previous snapshot did not already: each once, not on every
// recompile.
func (w *Watcher) logWarnings(prev, snap *snapshot.Snapshot) {
	var before []string
	if prev != nil {
		before = prev.Warnings
	}
	for _, msg := range snap.Warnings {
		if _, seen := slices.BinarySearch(before, msg); !seen {
			w.Logger.Warn("snapshot: " + msg)
		}
	}
}
