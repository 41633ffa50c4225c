// Package store is Trellis's durable key-value state: ordered keys, JSON
// values, serializable transactions and a revision counter that watchers
// follow. Backends (store/embedded on bbolt, store/etcd on an etcd
// cluster) are proven alike by the storetest suite; Copy moves every key
// from one to another.
//
// The store is deterministic: it never makes IDs or timestamps; the service
// layer does. store imports nothing from Trellis.
package store

import (
	"context"
	"errors"
)

// ErrClosed is returned by a store after Close.
var ErrClosed = errors.New("store: closed")

// ErrUnavailable is wrapped by every error of a backend that could not
// reach its storage in time (an etcd cluster down, cut off or without a
// leader), as opposed to a request refused as it is: the caller may try
// again later, and the API answers a retryable error (internal/api). A
// write that fails with it was not acknowledged; its message says when it
// may nevertheless have been applied (the outcome could not be learnt).
var ErrUnavailable = errors.New("store: unavailable (the store cannot be reached)")

// ErrCompacted is returned by ReadTx.Changes when the store no longer holds
// the changes asked for: the reader must read everything again.
var ErrCompacted = errors.New("store: changes compacted")

// ReadTx reads a consistent view.
type ReadTx interface {
	// Get returns the value at key, or nil, false.
	Get(key string) ([]byte, bool, error)
	// Scan calls fn for every key with prefix, in key order, starting after
	// the key `after` when it is non-empty. fn returns false to stop.
	Scan(prefix, after string, fn func(key string, value []byte) (bool, error)) error
	// Revision is the revision this view reflects.
	Revision() int64
	// Changes calls fn with every key that the revisions after `after`,
	// up to this view's, put or deleted, oldest first (a key may come
	// more than once), so that a reader who has the state at `after` reads
	// only what changed (an etcd watch's events carry the same keys). It
	// returns ErrCompacted when the store no longer holds the changes of
	// all those revisions (it keeps a bounded history).
	Changes(after int64, fn func(key string) error) error
}

// Tx reads and writes atomically.
type Tx interface {
	ReadTx
	Put(key string, value []byte) error
	Delete(key string) error
}

// Store is a durable, transactional key-value store.
type Store interface {
	// View runs fn on a consistent read-only view.
	View(ctx context.Context, fn func(ReadTx) error) error
	// Update runs fn in a serializable read-write transaction. If fn returns
	// nil, the changes are durable (on disk or on a quorum) before Update
	// returns, and the revision increases by one when fn wrote anything.
	// Update may run fn more than once (optimistic backends), so fn must have
	// no side effects besides the transaction.
	Update(ctx context.Context, fn func(Tx) error) (rev int64, err error)
	// Watch returns a channel that receives the newest revision after every
	// committed change (coalesced: a slow reader sees only the latest). The
	// channel is closed when ctx ends or the store closes.
	Watch(ctx context.Context) <-chan int64
	// Revision returns the current revision.
	Revision(ctx context.Context) (int64, error)
	Close() error
}

// SendLatest puts rev on a watcher's channel (buffered, capacity 1),
// replacing a value the reader has not taken yet: Watch's coalescing, for
// every backend. It never blocks.
func SendLatest(ch chan int64, rev int64) {
	select {
	case ch <- rev:
	default:
		select { // drop the stale value and put the newest
		case <-ch:
		default:
		}
		select {
		case ch <- rev:
		default:
		}
	}
}
