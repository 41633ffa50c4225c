package embedded

import (
	"context"
	"errors"
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
