package health

import (
	"net/http"
	"slices"
	"sync"
	"testing"
)

// TestTransitionAndSyncHooks: OnTransition is told each status a check
// changes (not every check), OnSync the groups a Sync looked at again —
// what a node needs to publish its statuses without reading them all.
func TestTransitionAndSyncHooks(t *testing.T) {
	var mu sync.Mutex
	var keys []string
	var syncs [][]string
	h := newHarness(t, func(c *Config) {
		c.OnTransition = func(key string) { mu.Lock(); keys = append(keys, key); mu.Unlock() }
		c.OnSync = func(ids []string) { mu.Lock(); syncs = append(syncs, slices.Sorted(slices.Values(ids))); mu.Unlock() }
	})
	b := newBackend(t, plainHTTP)
	tgt := ipTarget("tg-1", b.addr)
	g1 := ipGroup("tg-1", healthCheck(nil), tgt)
	h.publish(snap(1, g1))
	h.waitStatus("tg-1", tgt, "HEALTHY")
	// Several passing checks after HEALTHY: no more transitions.
	n := b.count()
	eventually(t, "more checks", func() bool { return b.count() >= n+3 })
	mu.Lock()
	if !slices.Equal(keys, []string{tgt.Key}) {
		t.Errorf("transitions = %v, want one of %s (INITIAL → HEALTHY)", keys, tgt.Key)
	}
	if len(syncs) != 1 || !slices.Equal(syncs[0], []string{"tg-1"}) {
		t.Errorf("syncs = %v, want [[tg-1]]", syncs)
	}
	mu.Unlock()

	b.status.Store(http.StatusServiceUnavailable)
	h.waitStatus("tg-1", tgt, "UNHEALTHY")
	mu.Lock()
	if len(keys) != 2 {
		t.Errorf("transitions = %v, want two", keys)
	}
	mu.Unlock()

	// An unchanged group is not reported again; a gone one is.
	b2 := newBackend(t, plainHTTP)
	g2 := ipGroup("tg-2", healthCheck(nil), ipTarget("tg-2", b2.addr))
	h.publish(snap(2, g1, g2))
	h.publish(snap(3, g2))
	mu.Lock()
	defer mu.Unlock()
	if len(syncs) != 3 || !slices.Equal(syncs[1], []string{"tg-2"}) || !slices.Equal(syncs[2], []string{"tg-1"}) {
		t.Errorf("syncs = %v, want [[tg-1] [tg-2] [tg-1]]", syncs)
	}
}
