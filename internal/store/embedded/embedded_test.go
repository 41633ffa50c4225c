package embedded

import (
	"context"
	"errors"
	bolt "go.etcd.io/bbolt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(filepath.Join(t.TempDir(), "trellis.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReopenKeepsDataAndRevision(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "trellis.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := s.Update(ctx, func(tx store.Tx) error { return tx.Put("k", []byte("v")) })
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, _ := s.Revision(ctx)
	if got != rev {
		t.Fatalf("revision after reopen %d, want %d", got, rev)
	}
	_ = s.View(ctx, func(tx store.ReadTx) error {
		if v, ok, _ := tx.Get("k"); !ok || string(v) != "v" {
			t.Fatalf("after reopen Get = %q, %v", v, ok)
		}
		return nil
	})
}

// TestOpenInUse: a second Open of a database another Store holds (as a
// second `trellis serve` on the same data directory would) fails soon, saying
// the data directory is in use, instead of bbolt's bare "timeout"; once the
// first closes, it opens.
func TestOpenInUse(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trellis.db")
	first, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Open(path)
	if err == nil {
		second.Close()
		first.Close()
		t.Fatal("a second Open of a held database succeeded")
	}
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "data directory "+dir+" is in use by another trellis process") {
		t.Fatalf("error %q", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(path)
	if err != nil {
		t.Fatalf("Open after the holder closed: %v", err)
	}
	again.Close()
}

// TestChangeLogIsBounded: the change log keeps changeLogRevisions
// revisions; asking for older ones is store.ErrCompacted, and a store
// written before the log existed (no entries) answers the same.
func TestChangeLogIsBounded(t *testing.T) {
	defer func(n int64) { changeLogRevisions = n }(changeLogRevisions)
	changeLogRevisions = 5
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "trellis.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var revs []int64
	for i := range 12 {
		rev, err := s.Update(ctx, func(tx store.Tx) error { return tx.Put("k", []byte{byte(i)}) })
		if err != nil {
			t.Fatal(err)
		}
		revs = append(revs, rev)
	}
	last := revs[len(revs)-1]
	_ = s.View(ctx, func(tx store.ReadTx) error {
		n := 0
		if err := tx.Changes(last-5, func(string) error { n++; return nil }); err != nil || n != 5 {
			t.Fatalf("the last 5 revisions: %d keys, %v", n, err)
		}
		if err := tx.Changes(last-6, func(string) error { return nil }); !errors.Is(err, store.ErrCompacted) {
			t.Fatalf("a revision out of the log: %v, want ErrCompacted", err)
		}
		return nil
	})
	// An older version's store: data, no log.
	if err := s.db.Update(func(btx *bolt.Tx) error {
		if err := btx.DeleteBucket(bucketChanges); err != nil {
			return err
		}
		_, err := btx.CreateBucket(bucketChanges)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	_ = s.View(ctx, func(tx store.ReadTx) error {
		if err := tx.Changes(last-1, func(string) error { return nil }); !errors.Is(err, store.ErrCompacted) {
			t.Fatalf("no log: %v, want ErrCompacted", err)
		}
		return nil
	})
}
