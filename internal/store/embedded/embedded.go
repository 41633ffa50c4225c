// Package embedded is the single-node store on bbolt: every committed
// transaction is fsynced before Update returns.
//
// Concurrent Updates share commits (group commit): a committer goroutine
// runs every Update queued while the previous commit was being written in
// one bbolt transaction, one after the other, and pays one fsync for all of
// them. A lone Update waits for nothing (no batching delay): batches form
// only while a commit is in flight. Each Update still returns only after
// the fsync that holds its writes.
package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/trellis-net/trellis/internal/store"
)

var (
	bucketKV   = []byte("kv")
	bucketMeta = []byte("meta")
	keyRev     = []byte("revision")
	// bucketChanges maps a revision (8 bytes, big-endian) to the keys it
	// put or deleted (each a uvarint length and the bytes): the change log
	// that ReadTx.Changes reads.
	bucketChanges = []byte("changes")
)

// changeLogRevisions is how many revisions the change log keeps; a reader
// further behind reads everything (store.ErrCompacted).
var changeLogRevisions int64 = 10000

// Store is a bbolt-backed store.Store.
type Store struct {
	db *bolt.DB

	mu       sync.Mutex
	watchers map[chan int64]struct{}
	closed   bool

	// Group commit: Updates queue calls; the committer runs them. qmu
	// guards sending on queue against Close (never held by the
	// committer, which takes mu to notify watchers).
	qmu       sync.RWMutex
	qclosed   bool
	queue     chan *call
	stop      chan struct{}
	committed chan struct{} // closed when the committer has returned
}

// call is one queued Update.
type call struct {
	fn   func(store.Tx) error
	rev  int64
	err  error
	pan  any // a panic of fn, re-raised in the caller's goroutine
	done chan struct{}
}

// maxBatch bounds how many Updates share a commit, so that one commit's
// transaction stays small.
const maxBatch = 256

var _ store.Store = (*Store)(nil)

// ErrInUse is returned (wrapped) by Open when another process holds the
// database file.
var ErrInUse = errors.New("in use by another trellis process")

// lockTimeout is how long Open waits for the file lock. bbolt holds an
// exclusive flock for as long as a database is open, so a lock that is
// not free at once belongs to a running process (the kernel drops the
// lock of one that died): waiting long would only delay the error.
const lockTimeout = time.Second

// Open opens (creating if needed) the database file at path. When another
// process has it open, Open fails after about a second with ErrInUse
// naming the file's directory, the data directory of `trellis serve`. (The
// flock does not tell which process holds it.)
func Open(path string) (*Store, error) {
	// The free-page list is not written at every commit (it grows with
	// the database: at 10,000 services it was a share of each write's
	// cost that 10 services do not pay); Open rebuilds it by a scan of
	// the file instead, as etcd runs bbolt. The map form makes allocating
	// pages cheap at any size.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: the data directory %s is %w (its lock on %s is held); stop it or use another data directory",
			path, filepath.Dir(path), ErrInUse, filepath.Base(path))
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketKV, bucketMeta, bucketChanges} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init store %s: %w", path, err)
	}
	s := &Store{db: db, watchers: map[chan int64]struct{}{}, queue: make(chan *call, maxBatch),
		stop: make(chan struct{}), committed: make(chan struct{})}
	go s.commitLoop()
	return s, nil
}

type tx struct {
	btx   *bolt.Tx
	kv    *bolt.Bucket
	rev   int64
	dirty bool
	keys  []string // put or deleted, for the change log
}

func (t *tx) Get(key string) ([]byte, bool, error) {
	v := t.kv.Get([]byte(key))
	if v == nil {
		return nil, false, nil
	}
	return bytes.Clone(v), true, nil
}

func (t *tx) Scan(prefix, after string, fn func(string, []byte) (bool, error)) error {
	c := t.kv.Cursor()
	p := []byte(prefix)
	var k, v []byte
	if after != "" && after >= prefix {
		k, v = c.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, v = c.Next()
		}
	} else {
		k, v = c.Seek(p)
	}
	for ; k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		more, err := fn(string(k), bytes.Clone(v))
		if err != nil || !more {
			return err
		}
	}
	return nil
}

func (t *tx) Revision() int64 { return t.rev }

func (t *tx) Put(key string, value []byte) error {
	t.dirty = true
	t.keys = append(t.keys, key)
	return t.kv.Put([]byte(key), value)
}

func (t *tx) Delete(key string) error {
	t.dirty = true
	t.keys = append(t.keys, key)
	return t.kv.Delete([]byte(key))
}

func revKey(rev int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(rev))
	return b[:]
}

// Changes implements store.ReadTx.
func (t *tx) Changes(after int64, fn func(string) error) error {
	if after >= t.rev {
		return nil
	}
	c := t.btx.Bucket(bucketChanges).Cursor()
	k, v := c.Seek(revKey(after + 1))
	if len(k) != 8 || int64(binary.BigEndian.Uint64(k)) != after+1 {
		return store.ErrCompacted
	}
	for ; len(k) == 8 && int64(binary.BigEndian.Uint64(k)) <= t.rev; k, v = c.Next() {
		for len(v) > 0 {
			n, w := binary.Uvarint(v)
			if w <= 0 || uint64(len(v)-w) < n {
				return fmt.Errorf("store: corrupt change log at revision %d", binary.BigEndian.Uint64(k))
			}
			if err := fn(string(v[w : w+int(n)])); err != nil {
				return err
			}
			v = v[w+int(n):]
		}
	}
	return nil
}

// logChanges records the keys t wrote under rev and forgets the revision
// that falls out of the kept history.
func logChanges(btx *bolt.Tx, rev int64, keys []string) error {
	var b []byte
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	log := btx.Bucket(bucketChanges)
	if err := log.Put(revKey(rev), b); err != nil {
		return err
	}
	if old := rev - changeLogRevisions; old > 0 {
		return log.Delete(revKey(old))
	}
	return nil
}

func readRev(btx *bolt.Tx) int64 {
	v := btx.Bucket(bucketMeta).Get(keyRev)
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}

// View implements store.Store.
func (s *Store) View(ctx context.Context, fn func(store.ReadTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(func(btx *bolt.Tx) error {
		return fn(&tx{btx: btx, kv: btx.Bucket(bucketKV), rev: readRev(btx)})
	})
}

// Update implements store.Store. fn may run more than once: when a call
// shares a commit with one whose fn fails, the commit is rolled back and
// the others run again without it; the failing one then runs alone.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	c := &call{fn: fn, done: make(chan struct{})}
	s.qmu.RLock()
	if s.qclosed {
		s.qmu.RUnlock()
		return 0, store.ErrClosed
	}
	// Sent under qmu so that Close, which takes it to set qclosed, never
	// stops the committer with a call still on its way into the queue.
	s.queue <- c
	s.qmu.RUnlock()
	<-c.done
	if c.pan != nil {
		panic(c.pan)
	}
	return c.rev, c.err
}

// commitLoop commits the queued calls until the store closes: each batch is
// what queued while the previous commit was in flight.
func (s *Store) commitLoop() {
	defer close(s.committed)
	batch := make([]*call, 0, maxBatch)
	for {
		select {
		case c := <-s.queue:
			batch = append(batch[:0], c)
		case <-s.stop:
			// Close stopped new calls (under mu) before stopping the
			// loop: run what is still queued, then return.
			for {
				select {
				case c := <-s.queue:
					s.commit([]*call{c})
				default:
					return
				}
			}
		}
	more:
		for len(batch) < maxBatch {
			select {
			case c := <-s.queue:
				batch = append(batch, c)
			default:
				break more
			}
		}
		s.commit(batch)
	}
}

// commit runs calls in one bbolt transaction, in order. When one's fn
// fails (or panics), the transaction is rolled back, it runs alone, and
// the others are committed again without it: its error comes from a state
// that was committed, and its partial writes never land.
func (s *Store) commit(calls []*call) {
	for len(calls) > 0 {
		failed := -1
		revs := make([]int64, len(calls))
		var last int64
		changed := false
		err := s.db.Update(func(btx *bolt.Tx) error {
			changed = false
			for i, c := range calls {
				rev, wrote, err := run(btx, c)
				if err != nil {
					failed = i
					return err
				}
				revs[i], last = rev, rev
				changed = changed || wrote
			}
			return nil
		})
		if err == nil {
			for i, c := range calls {
				c.rev = revs[i]
				close(c.done)
			}
			if changed {
				s.notify(last)
			}
			return
		}
		if failed < 0 || len(calls) == 1 {
			// The commit itself failed, or the lone call did: every call
			// in it hears the error.
			for _, c := range calls {
				c.err = err
				close(c.done)
			}
			return
		}
		s.commit([]*call{calls[failed]})
		calls = append(calls[:failed:failed], calls[failed+1:]...)
	}
}

// errPanicked stands for a panic of fn, which the caller re-raises.
var errPanicked = errors.New("store: update function panicked")

// run runs one call's fn in btx and moves the revision when it wrote.
func run(btx *bolt.Tx, c *call) (rev int64, wrote bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			c.pan = p
			err = errPanicked
		}
	}()
	c.pan = nil
	t := &tx{btx: btx, kv: btx.Bucket(bucketKV), rev: readRev(btx)}
	if err := c.fn(t); err != nil {
		return 0, false, err
	}
	if !t.dirty {
		return t.rev, false, nil
	}
	rev = t.rev + 1
	if err := logChanges(btx, rev, t.keys); err != nil {
		return 0, false, err
	}
	return rev, true, btx.Bucket(bucketMeta).Put(keyRev, revKey(rev))
}

func (s *Store) notify(rev int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.watchers {
		store.SendLatest(ch, rev)
	}
}

// Watch implements store.Store.
func (s *Store) Watch(ctx context.Context) <-chan int64 {
	ch := make(chan int64, 1)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		close(ch)
		return ch
	}
	s.watchers[ch] = struct{}{}
	s.mu.Unlock()
	go func() {
		<-ctx.Done()
		s.mu.Lock()
		if _, ok := s.watchers[ch]; ok {
			delete(s.watchers, ch)
			close(ch)
		}
		s.mu.Unlock()
	}()
	return ch
}

// Revision implements store.Store.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	var rev int64
	err := s.View(ctx, func(t store.ReadTx) error { rev = t.Revision(); return nil })
	return rev, err
}

// Close implements store.Store. Updates already queued are committed
// first; later ones get store.ErrClosed.
func (s *Store) Close() error {
	s.qmu.Lock()
	if !s.qclosed {
		s.qclosed = true
		close(s.stop)
	}
	s.qmu.Unlock()
	<-s.committed
	s.mu.Lock()
	s.closed = true
	for ch := range s.watchers {
		delete(s.watchers, ch)
		close(ch)
	}
	s.mu.Unlock()
	return s.db.Close()
}
