package watch

import (
	"context"
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

	mu       sync.Mutex
	subs     []chan struct{}
	loader   Loader               // used only by the compile loop
	compiler snapshot.Incremental // likewise
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
	changes := w.Store.Watch(ctx)
	if err := w.compile(ctx, time.Time{}); err != nil {
		return err
	}
	go w.loop(ctx, changes)
	return nil
}

func (w *Watcher) loop(ctx context.Context, changes <-chan int64) {
	tick := time.NewTicker(w.Refresh)
	defer tick.Stop()
	for {
		var changedAt time.Time
		select {
		case <-ctx.Done():
			return
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
		if err := w.compile(ctx, changedAt); err != nil && ctx.Err() == nil {
			w.Logger.Error("compile snapshot", "err", err)
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
	o := w.Options
	o.Now = time.Now()
	snap := w.compiler.Compile(st, w.loader.Change(), &w.loader, o)
	prev := w.Holder.Load()
	w.Holder.Store(snap)
	w.logWarnings(prev, snap)
	took := time.Since(start)
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
	return nil
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
