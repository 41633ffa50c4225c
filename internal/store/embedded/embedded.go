// Package embedded is the single-node store on bbolt: every committed
// transaction is fsynced before Update returns.
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
)

// Store is a bbolt-backed store.Store.
type Store struct {
	db *bolt.DB

	mu       sync.Mutex
	watchers map[chan int64]struct{}
	closed   bool
}

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
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %s: the data directory %s is %w (its lock on %s is held); stop it or use another data directory",
			path, filepath.Dir(path), ErrInUse, filepath.Base(path))
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketKV, bucketMeta} {
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
	return &Store{db: db, watchers: map[chan int64]struct{}{}}, nil
}

type tx struct {
	btx   *bolt.Tx
	kv    *bolt.Bucket
	rev   int64
	dirty bool
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
	return t.kv.Put([]byte(key), value)
}

func (t *tx) Delete(key string) error {
	t.dirty = true
	return t.kv.Delete([]byte(key))
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

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var rev int64
	changed := false
	err := s.db.Update(func(btx *bolt.Tx) error {
		t := &tx{btx: btx, kv: btx.Bucket(bucketKV), rev: readRev(btx)}
		if err := fn(t); err != nil {
			return err
		}
		rev = t.rev
		if !t.dirty {
			return nil
		}
		rev++
		changed = true
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(rev))
		return btx.Bucket(bucketMeta).Put(keyRev, b[:])
	})
	if err != nil {
		return 0, err
	}
	if changed {
		s.notify(rev)
	}
	return rev, nil
}

func (s *Store) notify(rev int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.watchers {
		select {
		case ch <- rev:
		default:
			// Coalesce: drop the stale value and put the newest.
			select {
			case <-ch:
			default:
			}
			select {
			case ch <- rev:
			default:
			}
		}
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

// Close implements store.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	for ch := range s.watchers {
		delete(s.watchers, ch)
		close(ch)
	}
	s.mu.Unlock()
	return s.db.Close()
}
