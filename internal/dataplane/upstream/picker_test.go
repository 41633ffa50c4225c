package upstream

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/snapshot"
)

func group(id string, n int) *snapshot.TargetGroup {
	tg := &snapshot.TargetGroup{ID: id, Type: "IP"}
	for i := range n {
		ip := fmt.Sprintf("10.0.0.%d", i+1)
		tg.Targets = append(tg.Targets, &snapshot.Target{
			ID: ip, Port: 80, Addr: netip.MustParseAddrPort(ip + ":80"), Key: TargetKey(id, ip, 80),
		})
	}
	return tg
}

// counts picks n times and counts the picks per target ID.
func counts(t *testing.T, p *Picker, tg *snapshot.TargetGroup, exclude string, n int) map[string]int {
	t.Helper()
	c := map[string]int{}
	for range n {
		tgt, s := p.Pick(tg, exclude)
		if tgt == nil || s == nil {
			t.Fatal("no pick")
		}
		if s != p.Registry.Get(tgt.Key) {
			t.Fatal("state is not the registry's state of the target")
		}
		c[tgt.ID]++
	}
	return c
}

func eq(t *testing.T, got, want map[string]int) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("picks %v, want %v", got, want)
	}
}

func TestPickRoundRobin(t *testing.T) {
	p := &Picker{Registry: new(Registry)}
	tg := group("tg-1", 3)
	var order []string
	for range 6 {
		tgt, _ := p.Pick(tg, "")
		order = append(order, tgt.ID)
	}
	if got := fmt.Sprint(order); got != "[10.0.0.1 10.0.0.2 10.0.0.3 10.0.0.1 10.0.0.2 10.0.0.3]" {
		t.Fatalf("order %s", got)
	}
	// The position belongs to the group ID: a new snapshot's copy of the
	// group continues the rotation.
	tg2 := group("tg-1", 3)
	if tgt, _ := p.Pick(tg2, ""); tgt.ID != "10.0.0.1" {
		t.Fatalf("after swap: %s", tgt.ID)
	}
	if tgt, _ := p.Pick(tg2, ""); tgt.ID != "10.0.0.2" {
		t.Fatalf("after swap: %s", tgt.ID)
	}
	// Another group has its own position.
	if tgt, _ := p.Pick(group("tg-2", 3), ""); tgt.ID != "10.0.0.1" {
		t.Fatalf("other group: %s", tgt.ID)
	}
}

func TestPickSkipsUnavailable(t *testing.T) {
	now := time.Unix(1000, 0).UnixNano()
	p := &Picker{Registry: new(Registry), Now: func() int64 { return now }}
	tg := group("tg-1", 4)
	p.Registry.Get(tg.Targets[1].Key).SetHealth(HealthUnhealthy, "HealthCheckFailed")
	p.Registry.Get(tg.Targets[2].Key).MarkDown(time.Unix(0, now).Add(10 * time.Second))
	p.Registry.Get(tg.Targets[3].Key).SetHealth(HealthInitial, "")
	// Even split between the two available targets.
	eq(t, counts(t, p, tg, "", 400), map[string]int{"10.0.0.1": 200, "10.0.0.4": 200})

	// Passive down expires.
	now += int64(11 * time.Second)
	eq(t, counts(t, p, tg, "", 300), map[string]int{"10.0.0.1": 100, "10.0.0.3": 100, "10.0.0.4": 100})

	// A passing active check clears a passive mark at once (a status of
	// HEALTHY alone does not: see TestFailedCheckKeepsMarkDown).
	p.Registry.Get(tg.Targets[2].Key).MarkDown(time.Unix(0, now).Add(time.Hour))
	p.Registry.Get(tg.Targets[2].Key).SetHealth(HealthHealthy, "")
	p.Registry.Get(tg.Targets[2].Key).ClearMarkDown(time.Now().UnixNano())
	eq(t, counts(t, p, tg, "", 300), map[string]int{"10.0.0.1": 100, "10.0.0.3": 100, "10.0.0.4": 100})
}

func TestPickExclude(t *testing.T) {
	p := &Picker{Registry: new(Registry)}
	tg := group("tg-1", 3)
	eq(t, counts(t, p, tg, tg.Targets[0].Key, 100), map[string]int{"10.0.0.2": 50, "10.0.0.3": 50})

	// Only the excluded target is available: fail open to the others.
	p.Registry.Get(tg.Targets[1].Key).SetHealth(HealthUnhealthy, "")
	p.Registry.Get(tg.Targets[2].Key).SetHealth(HealthUnhealthy, "")
	eq(t, counts(t, p, tg, tg.Targets[0].Key, 100), map[string]int{"10.0.0.2": 50, "10.0.0.3": 50})

	// The excluded target is the only one: it is still returned.
	one := group("tg-one", 1)
	eq(t, counts(t, p, one, one.Targets[0].Key, 3), map[string]int{"10.0.0.1": 3})
}

func TestPickFailOpen(t *testing.T) {
	for _, policy := range []int{RoundRobin, LeastOutstanding} {
		p := &Picker{Registry: new(Registry), Policy: policy}
		tg := group("tg-1", 3)
		for _, tgt := range tg.Targets {
			p.Registry.Get(tgt.Key).SetHealth(HealthUnhealthy, "HealthCheckFailed")
		}
		eq(t, counts(t, p, tg, "", 300), map[string]int{"10.0.0.1": 100, "10.0.0.2": 100, "10.0.0.3": 100})
	}
}

func TestPickEmpty(t *testing.T) {
	for _, policy := range []int{RoundRobin, LeastOutstanding} {
		p := &Picker{Registry: new(Registry), Policy: policy}
		if tgt, s := p.Pick(&snapshot.TargetGroup{ID: "tg-empty"}, ""); tgt != nil || s != nil {
			t.Fatalf("policy %d: picked %v from an empty group", policy, tgt)
		}
	}
}

func TestPickLeastOutstanding(t *testing.T) {
	p := &Picker{Registry: new(Registry), Policy: LeastOutstanding}
	tg := group("tg-1", 3)
	st := func(i int) *State { return p.Registry.Get(tg.Targets[i].Key) }
	st(0).Acquire()
	st(0).Acquire()
	st(1).Acquire()
	// Target 3 has none in flight: always chosen.
	eq(t, counts(t, p, tg, "", 10), map[string]int{"10.0.0.3": 10})
	// Ties between 2 and 3 are broken round robin.
	st(2).Acquire()
	eq(t, counts(t, p, tg, "", 10), map[string]int{"10.0.0.2": 5, "10.0.0.3": 5})
	// Unavailable targets are skipped even when idle.
	st(1).Release()
	st(1).SetHealth(HealthUnhealthy, "")
	eq(t, counts(t, p, tg, "", 10), map[string]int{"10.0.0.3": 10})
	// Exclusion.
	eq(t, counts(t, p, tg, tg.Targets[2].Key, 10), map[string]int{"10.0.0.1": 10})
	// Picking in a loop that acquires spreads load evenly.
	st(1).SetHealth(HealthHealthy, "")
	p2 := &Picker{Registry: new(Registry), Policy: LeastOutstanding}
	c := map[string]int{}
	for range 30 {
		tgt, s := p2.Pick(tg, "")
		s.Acquire()
		c[tgt.ID]++
	}
	eq(t, c, map[string]int{"10.0.0.1": 10, "10.0.0.2": 10, "10.0.0.3": 10})
}

func TestPickForget(t *testing.T) {
	p := &Picker{Registry: new(Registry)}
	tg := group("tg-1", 3)
	p.Pick(tg, "")
	p.Forget(func(id string) bool { return id != "tg-1" })
	if tgt, _ := p.Pick(tg, ""); tgt.ID != "10.0.0.1" {
		t.Fatalf("after Forget: %s", tgt.ID)
	}
}

func TestPickConcurrent(t *testing.T) {
	for _, policy := range []int{RoundRobin, LeastOutstanding} {
		p := &Picker{Registry: new(Registry), Policy: policy}
		tg := group("tg-1", 4)
		var mu sync.Mutex
		c := map[string]int{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				local := map[string]int{}
				for range 1000 {
					tgt, s := p.Pick(tg, "")
					s.Acquire()
					local[tgt.ID]++
					s.Release()
				}
				mu.Lock()
				for k, v := range local {
					c[k] += v
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		if len(c) != 4 {
			t.Fatalf("policy %d: picks %v", policy, c)
		}
		if policy == RoundRobin {
			eq(t, c, map[string]int{"10.0.0.1": 2000, "10.0.0.2": 2000, "10.0.0.3": 2000, "10.0.0.4": 2000})
		}
	}
}

func TestPickAllocs(t *testing.T) {
	for _, policy := range []int{RoundRobin, LeastOutstanding} {
		p := &Picker{Registry: new(Registry), Policy: policy}
		tg := group("tg-1", 10)
		p.Registry.Get(tg.Targets[3].Key).SetHealth(HealthUnhealthy, "")
		p.Pick(tg, "")
		if n := testing.AllocsPerRun(100, func() { p.Pick(tg, tg.Targets[5].Key) }); n != 0 {
			t.Fatalf("policy %d: Pick allocates %v times", policy, n)
		}
	}
}

func BenchmarkPick(b *testing.B) {
	for _, bc := range []struct {
		name   string
		policy int
	}{{"RoundRobin", RoundRobin}, {"LeastOutstanding", LeastOutstanding}} {
		b.Run(bc.name, func(b *testing.B) {
			p := &Picker{Registry: new(Registry), Policy: bc.policy}
			tg := group("tg-bench", 10)
			b.ReportAllocs()
			for b.Loop() {
				if t, _ := p.Pick(tg, ""); t == nil {
					b.Fatal("nil")
				}
			}
		})
	}
}
