package watch

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/trellis-net/trellis/internal/store"
)

// CacheFile is the name of the local copy in a node's data directory.
const CacheFile = "snapshot-cache.db"

// Cache is a data-plane node's local copy of what its last snapshot was
// compiled from: the keys the Loader reads, as stored, and the revision
// they reflect, in a bbolt file of the node's data directory (CacheFile,
// mode 0600), plus a few values the node's start needs (SetMeta: the DNS
// token). When the shared store (etcd) cannot be reached at start, the
// node compiles this copy and serves it (static stability, docs/etcd.md);
// it is never a source of truth for the API.
//
// The watcher updates it after each compile from the store with only the
// keys that compile read again, in one bbolt transaction, in the
// background (writes are coalesced: a burst of compiles costs one fsync).
// The copy is therefore always one whole revision, possibly older than
// the snapshot served.
type Cache struct {
	db     *bolt.DB
	source string
	log    *slog.Logger

	mu      sync.Mutex
	pending *cacheBatch
	err     error // the last write's
	kick    chan struct{}
	done    chan struct{}
	closed  bool
}

// cacheBatch is what one or more compiles changed: the revision and when
// it was current, and the keys' new values (del for a key gone). full
// replaces every key.
type cacheBatch struct {
	rev  int64
	at   time.Time
	full bool
	puts map[string]cacheValue
}

type cacheValue struct {
	raw []byte // shared with the Loader's entries: never modified
	del bool
}

var (
	bucketKV   = []byte("kv")
	bucketMeta = []byte("meta")
	bucketApp  = []byte("app")
	keySource  = []byte("source")
	keyRev     = []byte("revision")
	keyAt      = []byte("at")
)

// OpenCache opens (or creates) the copy at path. source names the store
// the copy is of (e.g. "etcd /trellis/"): a copy of another source is
// ignored (Info reports none) and replaced by the first full write.
func OpenCache(path, source string, log *slog.Logger) (*Cache, error) {
	if log == nil {
		log = slog.Default()
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("local snapshot copy %s: %w", path, err)
	}
	// bbolt keeps an existing file's mode: the copy holds credentials'
	// hashes and policies, so it is the node's alone whatever made it.
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("local snapshot copy %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketKV, bucketMeta, bucketApp} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("local snapshot copy %s: %w", path, err)
	}
	c := &Cache{db: db, source: source, log: log, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go c.writer()
	return c, nil
}

// Path is the copy's file.
func (c *Cache) Path() string { return c.db.Path() }

// Info tells the revision the copy holds and when it was last known
// current; ok is false when there is no copy (of this source).
func (c *Cache) Info() (rev int64, at time.Time, ok bool) {
	_ = c.db.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if !bytes.Equal(m.Get(keySource), []byte(c.source)) {
			return nil
		}
		r, err := strconv.ParseInt(string(m.Get(keyRev)), 10, 64)
		if err != nil || r <= 0 {
			return nil
		}
		t, err := time.Parse(time.RFC3339Nano, string(m.Get(keyAt)))
		if err != nil {
			return nil
		}
		rev, at, ok = r, t, true
		return nil
	})
	return rev, at, ok
}

// View runs fn on the copy as a store.ReadTx (its Changes answers
// store.ErrCompacted: a Loader reads everything).
func (c *Cache) View(fn func(store.ReadTx) error) error {
	rev, _, ok := c.Info()
	if !ok {
		return errors.New("no local snapshot copy")
	}
	return c.db.View(func(tx *bolt.Tx) error { return fn(&cacheTx{b: tx.Bucket(bucketKV), rev: rev}) })
}

// Meta returns a value SetMeta kept.
func (c *Cache) Meta(key string) (string, bool) {
	var v string
	var ok bool
	_ = c.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketApp).Get([]byte(key)); b != nil {
			v, ok = string(b), true
		}
		return nil
	})
	return v, ok
}

// SetMeta keeps a value the node's start needs without the store (the
// DNS token), durably, unless it is already there.
func (c *Cache) SetMeta(key, value string) error {
	if v, ok := c.Meta(key); ok && v == value {
		return nil
	}
	return c.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketApp).Put([]byte(key), []byte(value)) })
}

// save queues a batch for the writer, merged into one not written yet.
func (c *Cache) save(b *cacheBatch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if p := c.pending; p != nil && !b.full {
		for k, v := range b.puts {
			p.puts[k] = v
		}
		p.rev, p.at = b.rev, b.at
	} else {
		c.pending = b
	}
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *Cache) writer() {
	defer close(c.done)
	for range c.kick {
		c.mu.Lock()
		b := c.pending
		c.pending = nil
		c.mu.Unlock()
		if b == nil {
			continue
		}
		err := c.write(b)
		c.mu.Lock()
		if err != nil && c.err == nil {
			c.log.Warn("local snapshot copy: write failed; the copy keeps an older revision", "file", c.Path(), "err", err)
		}
		c.err = err
		c.mu.Unlock()
	}
}

// write applies a batch in one transaction: the keys, then the revision
// and its time, so that the copy is always one whole revision.
func (c *Cache) write(b *cacheBatch) error {
	return c.db.Update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if b.full || !bytes.Equal(m.Get(keySource), []byte(c.source)) {
			if !b.full {
				// An incremental batch over a copy of another source (or
				// none) cannot make a whole revision: wait for a full one.
				return nil
			}
			if err := tx.DeleteBucket(bucketKV); err != nil {
				return err
			}
			if _, err := tx.CreateBucket(bucketKV); err != nil {
				return err
			}
		}
		kv := tx.Bucket(bucketKV)
		for k, v := range b.puts {
			var err error
			if v.del {
				err = kv.Delete([]byte(k))
			} else {
				err = kv.Put([]byte(k), v.raw)
			}
			if err != nil {
				return err
			}
		}
		if err := m.Put(keySource, []byte(c.source)); err != nil {
			return err
		}
		if err := m.Put(keyRev, []byte(strconv.FormatInt(b.rev, 10))); err != nil {
			return err
		}
		return m.Put(keyAt, []byte(b.at.UTC().Format(time.RFC3339Nano)))
	})
}

// Flush waits until every batch queued so far is written, and returns the
// last write's error (for tests and Close).
func (c *Cache) Flush() error {
	for {
		c.mu.Lock()
		idle := c.pending == nil
		err := c.err
		c.mu.Unlock()
		if idle {
			// The writer may hold a batch it took: a write transaction
			// waits for it (bbolt serialises writers).
			if uerr := c.db.Update(func(*bolt.Tx) error { return nil }); uerr != nil {
				return uerr
			}
			c.mu.Lock()
			idle, err = c.pending == nil, c.err
			c.mu.Unlock()
			if idle {
				return err
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Close writes what is queued and closes the file.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.kick)
	c.mu.Unlock()
	<-c.done
	return c.db.Close()
}

// cacheTx is the copy as a store.ReadTx.
type cacheTx struct {
	b   *bolt.Bucket
	rev int64
}

func (t *cacheTx) Get(key string) ([]byte, bool, error) {
	v := t.b.Get([]byte(key))
	if v == nil {
		return nil, false, nil
	}
	return bytes.Clone(v), true, nil
}

func (t *cacheTx) Scan(prefix, after string, fn func(string, []byte) (bool, error)) error {
	cur := t.b.Cursor()
	p := []byte(prefix)
	k, v := cur.Seek(p)
	if after != "" && after >= prefix {
		k, v = cur.Seek([]byte(after))
		if k != nil && string(k) == after {
			k, v = cur.Next()
		}
	}
	for ; k != nil && bytes.HasPrefix(k, p); k, v = cur.Next() {
		// bbolt's slices live as long as the transaction: the Loader
		// keeps what it reads.
		more, err := fn(string(k), bytes.Clone(v))
		if err != nil || !more {
			return err
		}
	}
	return nil
}

func (t *cacheTx) Revision() int64 { return t.rev }

func (t *cacheTx) Changes(int64, func(string) error) error { return store.ErrCompacted }
