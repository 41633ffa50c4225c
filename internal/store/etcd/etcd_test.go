package etcd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/etcd/etcdtest"
	"github.com/trellis-net/trellis/internal/store/storetest"
)

var ctx = context.Background()

// open opens a store on the cluster under prefix, closed at the end.
func open(t testing.TB, eps []string, prefix string) *Store {
	t.Helper()
	s, err := Open(ctx, Config{Endpoints: eps, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the shared suite on one real etcd: each store it
// opens is fresh and empty under a prefix of its own.
func TestConformance(t *testing.T) {
	c := etcdtest.Start(t)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, c.Endpoints(), fmt.Sprintf("/t%d/", n.Add(1)))
	})
}

// TestScanReadsOwnWrites: a transaction's Scan merges its buffered puts
// and deletes into the stored keys, in key order, across pages.
func TestScanReadsOwnWrites(t *testing.T) {
	defer func(n int64) { pageSize = n }(pageSize)
	pageSize = 2
	c := etcdtest.Start(t)
	s := open(t, c.Endpoints(), "/own/")
	if _, err := s.Update(ctx, func(tx store.Tx) error {
		for _, k := range []string{"p/b", "p/d", "p/f", "p/h", "q/a"} {
			if err := tx.Put(k, []byte("old")); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Update(ctx, func(tx store.Tx) error {
		_ = tx.Put("p/a", []byte("new"))
		_ = tx.Delete("p/d")
		_ = tx.Put("p/f", []byte("new"))
		_ = tx.Put("p/i", []byte("new"))
		_ = tx.Put("o/z", []byte("new"))
		for _, tc := range []struct{ after, want string }{
			{"", "[p/a=new p/b=old p/f=new p/h=old p/i=new]"},
			{"p/b", "[p/f=new p/h=old p/i=new]"},
			{"p/h", "[p/i=new]"},
		} {
			var got []string
			if err := tx.Scan("p/", tc.after, func(k string, v []byte) (bool, error) {
				got = append(got, k+"="+string(v))
				return true, nil
			}); err != nil {
				return err
			}
			if fmt.Sprint(got) != tc.want {
				t.Errorf("Scan after %q = %v, want %s", tc.after, got, tc.want)
			}
		}
		// Stopping early stops.
		n := 0
		_ = tx.Scan("p/", "", func(string, []byte) (bool, error) { n++; return n < 3, nil })
		if n != 3 {
			t.Errorf("stopped scan called fn %d times, want 3", n)
		}
		if _, ok, _ := tx.Get("p/d"); ok {
			t.Error("Get sees a key the transaction deleted")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTwoNodesSerializable: two stores on one prefix (two nodes) run
// read-modify-write transactions at once; none is lost (a counter), and a
// check-then-insert over a scanned range admits exactly one (no write
// skew: a scan's range cannot change under a committing transaction).
func TestTwoNodesSerializable(t *testing.T) {
	c := etcdtest.Start(t)
	a, b := open(t, c.Endpoints(), "/two/"), open(t, c.Endpoints(), "/two/")
	const each = 25
	var wg sync.WaitGroup
	for i, s := range []*Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				_, err := s.Update(ctx, func(tx store.Tx) error {
					v, _, err := tx.Get("counter")
					if err != nil {
						return err
					}
					n, _ := strconv.Atoi(string(v))
					return tx.Put("counter", []byte(strconv.Itoa(n+1)))
				})
				if err != nil {
					t.Errorf("node %d update %d: %v", i, j, err)
				}
				// Only one node may hold a slot/ key.
				_, err = s.Update(ctx, func(tx store.Tx) error {
					taken := false
					if err := tx.Scan(fmt.Sprintf("slot/%d/", j), "", func(string, []byte) (bool, error) {
						taken = true
						return false, nil
					}); err != nil || taken {
						return err
					}
					return tx.Put(fmt.Sprintf("slot/%d/%d", j, i), []byte("x"))
				})
				if err != nil {
					t.Errorf("node %d slot %d: %v", i, j, err)
				}
			}
		}()
	}
	wg.Wait()
	_ = a.View(ctx, func(tx store.ReadTx) error {
		v, _, _ := tx.Get("counter")
		if string(v) != strconv.Itoa(2*each) {
			t.Errorf("counter = %s after %d increments", v, 2*each)
		}
		for j := range each {
			n := 0
			_ = tx.Scan(fmt.Sprintf("slot/%d/", j), "", func(string, []byte) (bool, error) { n++; return true, nil })
			if n != 1 {
				t.Errorf("slot %d taken %d times", j, n)
			}
		}
		// Every write transaction moved the revision by one: the
		// increments and one slot taker each (the other read only).
		if tx.Revision() != 3*each {
			t.Errorf("revision %d after %d write transactions", tx.Revision(), 3*each)
		}
		return nil
	})
}

// TestLostAnswerCommitsOnce: when the answer to a commit that etcd applied
// is lost, Update sends the Txn again, finds its own change log entry, and
// reports success: the write is applied once (fn is not run again, the
// revision moves by one).
func TestLostAnswerCommitsOnce(t *testing.T) {
	defer func() { loseAnswer = nil }()
	loseAnswer = func(attempt int) bool { return attempt == 0 }
	c := etcdtest.Start(t)
	s := open(t, c.Endpoints(), "/lost/")
	for i := 1; i <= 5; i++ {
		runs := 0
		rev, err := s.Update(ctx, func(tx store.Tx) error {
			runs++
			v, _, err := tx.Get("n")
			if err != nil {
				return err
			}
			n, _ := strconv.Atoi(string(v))
			return tx.Put("n", []byte(strconv.Itoa(n+1)))
		})
		if err != nil || rev != int64(i) || runs != 1 {
			t.Fatalf("update %d: revision %d, %v, fn ran %d times", i, rev, err, runs)
		}
	}
	_ = s.View(ctx, func(tx store.ReadTx) error {
		if v, _, _ := tx.Get("n"); string(v) != "5" || tx.Revision() != 5 {
			t.Fatalf("n = %s at revision %d after 5 increments", v, tx.Revision())
		}
		return nil
	})
}

// TestChangeLogIsBounded: the change log keeps changeLogRevisions
// revisions; older ones are store.ErrCompacted.
func TestChangeLogIsBounded(t *testing.T) {
	defer func(n int64) { changeLogRevisions = n }(changeLogRevisions)
	changeLogRevisions = 5
	c := etcdtest.Start(t)
	s := open(t, c.Endpoints(), "/log/")
	var last int64
	for i := range 12 {
		rev, err := s.Update(ctx, func(tx store.Tx) error { return tx.Put("k", []byte{byte(i)}) })
		if err != nil {
			t.Fatal(err)
		}
		last = rev
	}
	_ = s.View(ctx, func(tx store.ReadTx) error {
		n := 0
		if err := tx.Changes(last-4, func(string) error { n++; return nil }); err != nil || n != 4 {
			t.Fatalf("the last 4 revisions: %d keys, %v", n, err)
		}
		if err := tx.Changes(last-6, func(string) error { return nil }); !errors.Is(err, store.ErrCompacted) {
			t.Fatalf("a revision out of the log: %v, want ErrCompacted", err)
		}
		return nil
	})
}

// TestViewIsOneSnapshot: a Scan across many pages reads one revision,
// whatever commits meanwhile.
func TestViewIsOneSnapshot(t *testing.T) {
	defer func(n int64) { pageSize = n }(pageSize)
	pageSize = 3
	c := etcdtest.Start(t)
	s := open(t, c.Endpoints(), "/snap/")
	_, err := s.Update(ctx, func(tx store.Tx) error {
		for i := range 20 {
			if err := tx.Put(fmt.Sprintf("k/%02d", i), []byte("v1")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx store.ReadTx) error {
		n := 0
		return tx.Scan("k/", "", func(k string, v []byte) (bool, error) {
			if n == 1 {
				// Another writer changes every key, and adds one, mid-scan.
				if _, err := s.Update(ctx, func(w store.Tx) error {
					for i := range 21 {
						if err := w.Put(fmt.Sprintf("k/%02d", i), []byte("v2")); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					return false, err
				}
			}
			n++
			if string(v) != "v1" || k == "k/20" {
				t.Errorf("the view saw %s=%s written after it began", k, v)
			}
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenErrors: a bad prefix or no reachable member fails Open clearly.
func TestOpenErrors(t *testing.T) {
	for _, p := range []string{"trellis", "/trellis", "/a b/", "/\x01/"} {
		if _, err := Open(ctx, Config{Endpoints: []string{"http://127.0.0.1:1"}, Prefix: p}); err == nil {
			t.Errorf("prefix %q accepted", p)
		}
	}
	start := time.Now()
	_, err := Open(ctx, Config{Endpoints: []string{"http://127.0.0.1:1"}, DialTimeout: 500 * time.Millisecond})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("Open of an endpoint nobody serves: %v after %v", err, time.Since(start))
	}
	for _, e := range []string{"127.0.0.1:2379", "ftp://h:1", "http://h", "http://h:1/x", "http://u@h:1"} {
		if _, err := ParseEndpoints(e); err == nil {
			t.Errorf("endpoint %q accepted", e)
		}
	}
	if eps, err := ParseEndpoints("http://127.0.0.1:2379, https://[::1]:2379"); err != nil || len(eps) != 2 {
		t.Errorf("ParseEndpoints = %v, %v", eps, err)
	}
}

// TestClusterMemberKilled: three members; one is killed with SIGKILL in
// the middle of concurrent writes from two nodes (stores), each node's
// client knowing the members in another order. No write fails (one whose
// answer was lost is sent again), every write acknowledged is there after,
// writes and reads go on through the other two.
func TestClusterMemberKilled(t *testing.T) {
	c := etcdtest.StartCluster(t, 3)
	eps := c.Endpoints()
	s := open(t, eps, "/ha/")
	s2 := open(t, []string{eps[2], eps[1], eps[0]}, "/ha/")
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watch := s.Watch(wctx) // s's client may be on the member killed
	var acked sync.Map
	var failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("k/%d/%d", w, i)
				node := s
				if w%2 == 1 {
					node = s2
				}
				if _, err := node.Update(ctx, func(tx store.Tx) error { return tx.Put(k, []byte(k)) }); err != nil {
					failed.Add(1)
					t.Logf("write %s: %v", k, err)
					continue
				}
				acked.Store(k, true)
			}
		}()
	}
	count := func() int {
		n := 0
		acked.Range(func(any, any) bool { n++; return true })
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for count() < 40 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	before := count()
	c.Members[0].Kill()
	// Writes continue after the kill.
	deadline = time.Now().Add(15 * time.Second)
	for count() < before+60 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if count() < before+60 {
		t.Fatalf("only %d writes after a member was killed (%d before)", count()-before, before)
	}
	if failed.Load() != 0 {
		t.Errorf("%d writes failed when a member was killed", failed.Load())
	}
	// Reads continue, and see every acknowledged write.
	err := s2.View(ctx, func(tx store.ReadTx) error {
		var missing []string
		acked.Range(func(k, _ any) bool {
			if _, ok, err := tx.Get(k.(string)); err != nil || !ok {
				missing = append(missing, k.(string))
			}
			return true
		})
		if len(missing) > 0 {
			t.Errorf("%d acknowledged writes lost: %v", len(missing), missing)
		}
		n := 0
		if err := tx.Scan("k/", "", func(string, []byte) (bool, error) { n++; return true, nil }); err != nil {
			return err
		}
		if n < count() {
			t.Errorf("scan found %d keys, %d acknowledged", n, count())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The watch goes on too: it reaches the last revision.
	last, err := s2.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for got := int64(0); got != last; {
		select {
		case got = <-watch:
		case <-timeout:
			t.Fatalf("the watch never reached revision %d after the kill (at %d)", last, got)
		}
	}
	t.Logf("%d writes acknowledged (%d before the kill), %d failed", count(), before, failed.Load())
}
