// Package storetest is the conformance suite every store.Store backend
// passes.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/store"
)

// Run runs the suite; open returns a fresh, empty store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()
	t.Run("PutGetDelete", func(t *testing.T) {
		s := open(t)
		rev0, _ := s.Revision(ctx)
		rev, err := s.Update(ctx, func(tx store.Tx) error { return tx.Put("a/1", []byte("one")) })
		if err != nil || rev != rev0+1 {
			t.Fatalf("Update = %d, %v; want %d", rev, err, rev0+1)
		}
		_ = s.View(ctx, func(tx store.ReadTx) error {
			v, ok, err := tx.Get("a/1")
			if err != nil || !ok || string(v) != "one" {
				t.Fatalf("Get = %q %v %v", v, ok, err)
			}
			if _, ok, _ := tx.Get("a/2"); ok {
				t.Fatal("Get of a missing key found something")
			}
			if tx.Revision() != rev {
				t.Fatalf("view revision %d, want %d", tx.Revision(), rev)
			}
			return nil
		})
		if _, err := s.Update(ctx, func(tx store.Tx) error { return tx.Delete("a/1") }); err != nil {
			t.Fatal(err)
		}
		_ = s.View(ctx, func(tx store.ReadTx) error {
			if _, ok, _ := tx.Get("a/1"); ok {
				t.Fatal("deleted key still there")
			}
			return nil
		})
	})
	t.Run("ReadOnlyUpdateKeepsRevision", func(t *testing.T) {
		s := open(t)
		r1, _ := s.Update(ctx, func(tx store.Tx) error { return tx.Put("k", []byte("v")) })
		r2, err := s.Update(ctx, func(tx store.Tx) error { _, _, err := tx.Get("k"); return err })
		if err != nil || r2 != r1 {
			t.Fatalf("read-only Update moved the revision from %d to %d (%v)", r1, r2, err)
		}
	})
	t.Run("ErrorRollsBack", func(t *testing.T) {
		s := open(t)
		boom := errors.New("boom")
		_, err := s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Put("x", []byte("1")); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update error = %v, want boom", err)
		}
		_ = s.View(ctx, func(tx store.ReadTx) error {
			if _, ok, _ := tx.Get("x"); ok {
				t.Fatal("a failed transaction left a write behind")
			}
			return nil
		})
	})
	t.Run("ScanPrefixAfter", func(t *testing.T) {
		s := open(t)
		_, err := s.Update(ctx, func(tx store.Tx) error {
			for _, k := range []string{"p/a", "p/b", "p/c", "q/a", "o/z"} {
				if err := tx.Put(k, []byte(k)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		scan := func(prefix, after string, limit int) string {
			var got []string
			_ = s.View(ctx, func(tx store.ReadTx) error {
				return tx.Scan(prefix, after, func(k string, v []byte) (bool, error) {
					if string(v) != k {
						t.Fatalf("value of %s is %s", k, v)
					}
					got = append(got, k)
					return len(got) < limit, nil
				})
			})
			return fmt.Sprint(got)
		}
		for _, tc := range []struct {
			prefix, after string
			limit         int
			want          string
		}{
			{"p/", "", 10, "[p/a p/b p/c]"},
			{"p/", "p/a", 10, "[p/b p/c]"},
			{"p/", "p/bb", 10, "[p/c]"},
			{"p/", "p/c", 10, "[]"},
			{"p/", "", 2, "[p/a p/b]"},
			{"r/", "", 10, "[]"},
		} {
			if got := scan(tc.prefix, tc.after, tc.limit); got != tc.want {
				t.Errorf("Scan(%q, %q, %d) = %s, want %s", tc.prefix, tc.after, tc.limit, got, tc.want)
			}
		}
	})
	t.Run("ConcurrentUpdates", func(t *testing.T) {
		// Concurrent writers (which a backend may commit together): each
		// Update gets its own revision, and every write is there after.
		s := open(t)
		rev0, _ := s.Revision(ctx)
		const writers, each = 8, 40
		revs := make(chan int64, writers*each)
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					k := fmt.Sprintf("c/%d/%d", w, i)
					rev, err := s.Update(ctx, func(tx store.Tx) error { return tx.Put(k, []byte(k)) })
					if err != nil {
						t.Errorf("Update %s: %v", k, err)
						return
					}
					revs <- rev
				}
			}()
		}
		wg.Wait()
		close(revs)
		seen := map[int64]bool{}
		for r := range revs {
			if seen[r] || r <= rev0 || r > rev0+writers*each {
				t.Fatalf("revision %d repeated or out of (%d, %d]", r, rev0, rev0+writers*each)
			}
			seen[r] = true
		}
		if rev, _ := s.Revision(ctx); rev != rev0+writers*each {
			t.Fatalf("revision %d after %d writes from %d", rev, writers*each, rev0)
		}
		n := 0
		_ = s.View(ctx, func(tx store.ReadTx) error {
			return tx.Scan("c/", "", func(k string, v []byte) (bool, error) {
				if string(v) != k {
					t.Fatalf("%s = %s", k, v)
				}
				n++
				return true, nil
			})
		})
		if n != writers*each {
			t.Fatalf("%d keys, want %d", n, writers*each)
		}
	})
	t.Run("FailingUpdateAmongConcurrent", func(t *testing.T) {
		// One failing Update never fails, or leaks into, the others: each
		// writer's every third Update writes, then fails.
		s := open(t)
		boom := errors.New("boom")
		const writers, each = 8, 30
		var wg sync.WaitGroup
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					k := fmt.Sprintf("f/%d/%03d", w, i)
					fail := i%3 == 0
					_, err := s.Update(ctx, func(tx store.Tx) error {
						if err := tx.Put(k, []byte("v")); err != nil {
							return err
						}
						if fail {
							return fmt.Errorf("%s: %w", k, boom)
						}
						return nil
					})
					if fail != errors.Is(err, boom) || !fail && err != nil {
						t.Errorf("Update %s (fail %v) = %v", k, fail, err)
					}
				}
			}()
		}
		wg.Wait()
		_ = s.View(ctx, func(tx store.ReadTx) error {
			for w := range writers {
				for i := range each {
					k := fmt.Sprintf("f/%d/%03d", w, i)
					if _, ok, _ := tx.Get(k); ok == (i%3 == 0) {
						t.Errorf("key %s present %v, its Update failed %v", k, ok, i%3 == 0)
					}
				}
			}
			return nil
		})
	})
	t.Run("Changes", func(t *testing.T) {
		s := open(t)
		r0, _ := s.Revision(ctx)
		r1, _ := s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Put("ch/a", []byte("1")); err != nil {
				return err
			}
			return tx.Put("ch/b", []byte("1"))
		})
		s.Update(ctx, func(tx store.Tx) error { _, _, err := tx.Get("ch/a"); return err }) // read-only: no revision
		r2, _ := s.Update(ctx, func(tx store.Tx) error { return tx.Delete("ch/a") })
		r3, _ := s.Update(ctx, func(tx store.Tx) error { return tx.Put("ch/c/x", []byte("\n")) })
		changes := func(after int64) string {
			var got []string
			err := s.View(ctx, func(tx store.ReadTx) error {
				return tx.Changes(after, func(k string) error { got = append(got, k); return nil })
			})
			if err != nil {
				t.Fatalf("Changes(%d): %v", after, err)
			}
			return fmt.Sprint(got)
		}
		for _, tc := range []struct {
			after int64
			want  string
		}{
			{r0, "[ch/a ch/b ch/a ch/c/x]"},
			{r1, "[ch/a ch/c/x]"},
			{r2, "[ch/c/x]"},
			{r3, "[]"},
		} {
			if got := changes(tc.after); got != tc.want {
				t.Errorf("Changes(%d) = %s, want %s", tc.after, got, tc.want)
			}
		}
	})
	t.Run("Watch", func(t *testing.T) {
		s := open(t)
		wctx, cancel := context.WithCancel(ctx)
		ch := s.Watch(wctx)
		rev, err := s.Update(ctx, func(tx store.Tx) error { return tx.Put("w", []byte("1")) })
		if err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-ch:
			if got != rev {
				t.Fatalf("watch got revision %d, want %d", got, rev)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no watch notification")
		}
		// Coalescing: many writes, the reader sees the newest.
		var last int64
		for i := 0; i < 10; i++ {
			last, _ = s.Update(ctx, func(tx store.Tx) error { return tx.Put("w", []byte{byte(i)}) })
		}
		deadline := time.After(5 * time.Second)
		for got := int64(0); got != last; {
			select {
			case got = <-ch:
			case <-deadline:
				t.Fatalf("watch never reached revision %d", last)
			}
		}
		cancel()
		select {
		case _, ok := <-ch:
			for ok {
				_, ok = <-ch
			}
		case <-time.After(5 * time.Second):
			t.Fatal("watch channel not closed after cancel")
		}
	})
}
