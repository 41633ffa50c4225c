package traffic

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/proxy"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// clock is an injected clock tests move by hand.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.ns.Store(t.UnixNano()); return c }
func (c *clock) now() time.Time   { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) add(d time.Duration) {
	c.ns.Add(int64(d))
}

var t0 = time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)

func obs(svc, tg, vpc string, id *snapshot.Identity, status int, d time.Duration) proxy.Observation {
	o := proxy.Observation{Service: &snapshot.Service{ID: svc}, VPC: &snapshot.VPC{ID: vpc}, Caller: id, Status: status, Duration: d}
	if tg != "" {
		o.TargetGroup = &snapshot.TargetGroup{ID: tg}
	}
	return o
}

// TestServiceView: callers by (principal, VPC) and target groups by ID,
// with exact counts per status class; anonymous callers as Anonymous;
// requests answered before a group was picked count for callers only.
func TestServiceView(t *testing.T) {
	c := newClock(t0.Add(30 * time.Second))
	a := New(Config{Window: time.Hour, Now: c.now})
	alice := &snapshot.Identity{PrincipalARN: "arn:aws:iam::111111111111:user/alice"}
	for range 10 {
		a.RequestDone(obs("svc-1", "tg-a", "vpc-1", alice, 200, time.Millisecond))
	}
	for range 3 {
		a.RequestDone(obs("svc-1", "tg-b", "vpc-1", alice, 503, 10*time.Millisecond))
	}
	for range 4 {
		a.RequestDone(obs("svc-1", "", "vpc-2", nil, 403, 50*time.Microsecond))
	}
	a.RequestDone(obs("svc-2", "tg-c", "vpc-1", alice, 404, time.Millisecond))
	a.RequestDone(proxy.Observation{Status: 404}) // no service: not kept

	callers, tgs := a.Service("svc-1", c.now().Add(-5*time.Minute))
	want := []Row{
		{Key: Key{Principal: alice.PrincipalARN, SourceVPCID: "vpc-1"}, Requests: 13, Errors5xx: 3},
		{Key: Key{Principal: Anonymous, SourceVPCID: "vpc-2"}, Requests: 4, Errors4xx: 4},
	}
	if len(callers) != len(want) {
		t.Fatalf("callers %+v", callers)
	}
	for i, w := range want {
		g := callers[i]
		if g.Key != w.Key || g.Requests != w.Requests || g.Errors4xx != w.Errors4xx || g.Errors5xx != w.Errors5xx {
			t.Errorf("caller %d = %+v, want %+v", i, g, w)
		}
	}
	if len(tgs) != 2 || tgs[0].TargetGroupID != "tg-a" || tgs[0].Requests != 10 || tgs[1].TargetGroupID != "tg-b" ||
		tgs[1].Requests != 3 || tgs[1].Errors5xx != 3 {
		t.Fatalf("target groups %+v", tgs)
	}
	if p := tgs[0].P50; relErr(p, time.Millisecond) > SketchRelativeError {
		t.Errorf("tg-a p50 %v, want ~1ms", p)
	}
	if p := tgs[1].P99; relErr(p, 10*time.Millisecond) > SketchRelativeError {
		t.Errorf("tg-b p99 %v, want ~10ms", p)
	}
	// The caller view and the top view of the same minute.
	calls := a.Caller(alice.PrincipalARN, c.now().Add(-time.Minute), nil)
	if len(calls) != 2 || calls[0].ServiceID != "svc-1" || calls[0].Requests != 13 || calls[1].ServiceID != "svc-2" || calls[1].Errors4xx != 1 {
		t.Fatalf("caller view %+v", calls)
	}
	if calls := a.Caller(alice.PrincipalARN, c.now(), func(id string) bool { return id == "svc-2" }); len(calls) != 1 || calls[0].ServiceID != "svc-2" {
		t.Fatalf("caller view of owned services %+v", calls)
	}
	svcs, cs := a.Top(c.now(), 1, nil)
	if len(svcs) != 1 || svcs[0].ServiceID != "svc-1" || svcs[0].Requests != 17 || len(cs) != 1 || cs[0].Principal != alice.PrincipalARN || cs[0].Requests != 14 {
		t.Fatalf("top: %+v %+v", svcs, cs)
	}
}

// TestMinuteRollover: a query reads the minutes from since's to the
// current one (included); minutes older than the window are gone; a slot
// reused for a later minute starts empty.
func TestMinuteRollover(t *testing.T) {
	c := newClock(t0.Add(59 * time.Second))
	a := New(Config{Window: 3 * time.Minute, Now: c.now})
	rec := func(n int) {
		for range n {
			a.RequestDone(obs("svc", "tg", "vpc", nil, 500, time.Millisecond))
		}
	}
	tgw := func(since time.Time) int64 {
		n, e, _ := a.TargetGroupWindow("svc", "tg", since)
		if n != e {
			t.Fatalf("requests %d, 5xx %d: all were 5xx", n, e)
		}
		return n
	}
	rec(1)             // minute 9:00
	c.add(time.Second) // 9:01:00 exactly: a new minute
	rec(2)             // minute 9:01
	if got := tgw(c.now()); got != 2 {
		t.Fatalf("current minute: %d, want 2", got)
	}
	// since inside 9:00 counts the whole of 9:00 (minute granularity).
	if got := tgw(t0.Add(59 * time.Second)); got != 3 {
		t.Fatalf("since 9:00:59: %d, want 3", got)
	}
	c.add(2 * time.Minute) // 9:03:00
	rec(4)
	if got := tgw(t0); got != 7 {
		t.Fatalf("9:00 to 9:03: %d, want 7", got)
	}
	if got := tgw(t0.Add(2 * time.Minute)); got != 4 {
		t.Fatalf("since 9:02: %d, want 4", got)
	}
	c.add(time.Minute) // 9:04: the 3-minute window starts at 9:01
	if got := tgw(t0.Add(-time.Hour)); got != 6 {
		t.Fatalf("whole window at 9:04: %d, want 6 (9:00 is out)", got)
	}
	// Far later: every slot was reused or is out of the window.
	c.add(time.Hour)
	rec(1)
	if got := tgw(t0); got != 1 {
		t.Fatalf("an hour later: %d, want 1", got)
	}
	// A late observation of a minute whose slot holds a newer one is
	// dropped, not counted into the newer minute.
	a.Record(c.now().Add(-time.Duration(len(a.ring))*time.Minute), Key{ServiceID: "svc", TargetGroupID: "tg"}, 500, 0)
	if got := tgw(t0); got != 1 {
		t.Fatalf("after a late observation: %d, want 1", got)
	}
}

// TestKeyBound: past MaxKeysPerMinute keys, requests count under the
// overflow key and Overflow counts them; the next minute starts afresh.
func TestKeyBound(t *testing.T) {
	c := newClock(t0)
	a := New(Config{Window: time.Minute, MaxKeysPerMinute: 5, Now: c.now})
	for i := range 8 {
		a.Record(c.now(), Key{ServiceID: fmt.Sprintf("svc-%d", i)}, 200, time.Millisecond)
	}
	a.Record(c.now(), Key{ServiceID: "svc-0"}, 200, time.Millisecond) // seen: counted as itself
	if a.Overflow() != 3 {
		t.Fatalf("overflow %d, want 3", a.Overflow())
	}
	sums := a.Collect(c.now(), nil, nil)
	if len(sums) != 6 || sums[overflowKey].Requests != 3 || sums[Key{ServiceID: "svc-0"}].Requests != 2 {
		t.Fatalf("sums %v", sums)
	}
	c.add(time.Minute)
	a.Record(c.now(), Key{ServiceID: "svc-7"}, 200, time.Millisecond)
	if a.Overflow() != 3 {
		t.Fatalf("a new minute overflowed: %d", a.Overflow())
	}
}

// TestRecordAllocs: counting a key already seen this minute allocates
// nothing (the proxy's hot path).
func TestRecordAllocs(t *testing.T) {
	a := New(Config{Window: time.Hour})
	id := &snapshot.Identity{PrincipalARN: "arn:aws:iam::111111111111:user/alice"}
	o := obs("svc-1", "tg-1", "vpc-1", id, 503, 3*time.Millisecond)
	a.RequestDone(o)
	if n := testing.AllocsPerRun(1000, func() { a.RequestDone(o) }); n != 0 {
		t.Fatalf("%v allocations per request, want 0", n)
	}
}

// TestConcurrentCounts: concurrent requests of shared and new keys, while
// queries run, are all counted (run with -race).
func TestConcurrentCounts(t *testing.T) {
	a := New(Config{Window: time.Hour})
	var wg sync.WaitGroup
	const workers, per = 8, 2000
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				a.Record(time.Now(), Key{ServiceID: "svc", Principal: fmt.Sprint(i % 50), TargetGroupID: "tg"}, 200+w, time.Millisecond)
			}
		}()
	}
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				a.Service("svc", time.Now().Add(-time.Minute))
			}
		}
	}()
	wg.Wait()
	close(stop)
	// The test may straddle a minute: the window covers both.
	n, _, _ := a.TargetGroupWindow("svc", "tg", time.Now().Add(-2*time.Minute))
	if n != workers*per {
		t.Fatalf("%d requests, want %d", n, workers*per)
	}
}

// BenchmarkRecordParallel: the hot path of RequestDone with every
// goroutine counting requests of a few keys (the common case: a handful
// of callers per service).
func BenchmarkRecordParallel(b *testing.B) {
	a := New(Config{Window: time.Hour})
	var os []proxy.Observation
	for i := range 8 {
		os = append(os, obs("svc-1", fmt.Sprintf("tg-%d", i%2), "vpc-1",
			&snapshot.Identity{PrincipalARN: fmt.Sprintf("arn:aws:iam::111111111111:user/u%d", i)}, 200, time.Millisecond))
		os[i].End = time.Now() // as the proxy sets it: no clock read here
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		o := os[next.Add(1)%int64(len(os))]
		for pb.Next() {
			a.RequestDone(o)
		}
	})
}

// BenchmarkRecordParallelOneKey: every goroutine counts the same key (the
// worst contention: one cell's counters).
func BenchmarkRecordParallelOneKey(b *testing.B) {
	a := New(Config{Window: time.Hour})
	o := obs("svc-1", "tg-1", "vpc-1", nil, 200, time.Millisecond)
	o.End = time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a.RequestDone(o)
		}
	})
}

// BenchmarkServiceQuery: a service view over an hour of 100 keys a minute.
func BenchmarkServiceQuery(b *testing.B) {
	c := newClock(t0)
	a := New(Config{Window: time.Hour, Now: c.now})
	for range 60 {
		for k := range 100 {
			a.Record(c.now(), Key{ServiceID: fmt.Sprintf("svc-%d", k%10), Principal: fmt.Sprint(k), TargetGroupID: "tg"}, 200, time.Millisecond)
		}
		c.add(time.Minute)
	}
	b.ReportAllocs()
	for b.Loop() {
		a.Service("svc-1", t0)
	}
}

// BenchmarkRecord: RequestDone of a key seen this minute, one goroutine.
func BenchmarkRecord(b *testing.B) {
	a := New(Config{Window: time.Hour})
	o := obs("svc-1", "tg-1", "vpc-1", &snapshot.Identity{PrincipalARN: "arn:aws:iam::111111111111:user/alice"}, 200, time.Millisecond)
	o.End = time.Now()
	b.ReportAllocs()
	for b.Loop() {
		a.RequestDone(o)
	}
}

// TestFreeze: a minute that is over is compacted (by the roll two minutes
// later) and answers the same numbers and quantiles as its live cells.
func TestFreeze(t *testing.T) {
	c := newClock(t0)
	a := New(Config{Window: 10 * time.Minute, Now: c.now})
	for i := range 300 {
		a.Record(c.now(), Key{ServiceID: "svc", Principal: fmt.Sprint(i % 7), TargetGroupID: "tg"}, 200+100*(i%4), time.Duration(i+1)*time.Millisecond)
	}
	before := a.Collect(t0, nil, nil)
	rl, tgs := a.Service("svc", t0)
	m0 := a.slot(unixMinute(t0))
	if m0.frozen.Load() != nil {
		t.Fatal("the current minute is frozen")
	}
	c.add(2 * time.Minute)
	a.Record(c.now(), Key{ServiceID: "other"}, 200, time.Millisecond) // rolls 9:02, freezes 9:00
	deadline := time.Now().Add(5 * time.Second)
	for m0.frozen.Load() == nil {
		if time.Now().After(deadline) {
			t.Fatal("9:00 was not frozen after the roll to 9:02")
		}
		time.Sleep(time.Millisecond)
	}
	for i := range m0.shards {
		if n := len(*m0.shards[i].m.Load()); n != 0 {
			t.Fatalf("a frozen minute keeps %d live cells", n)
		}
	}
	after := a.Collect(t0, func(k Key) bool { return k.ServiceID == "svc" }, nil)
	if len(after) != len(before) {
		t.Fatalf("%d keys after the freeze, %d before", len(after), len(before))
	}
	for k, b := range before {
		if g := after[k]; g == nil || *g != *b {
			t.Fatalf("key %v: %+v after the freeze, %+v before", k, g, b)
		}
	}
	rl2, tgs2 := a.Service("svc", t0)
	if fmt.Sprint(rl, tgs) != fmt.Sprint(rl2, tgs2) {
		t.Fatalf("service view changed by the freeze:\n%v %v\n%v %v", rl, tgs, rl2, tgs2)
	}
	a.freeze(unixMinute(t0)) // twice: nothing changes
	if again := a.Collect(t0, func(k Key) bool { return k.ServiceID == "svc" }, nil); len(again) != len(before) {
		t.Fatalf("a second freeze lost keys: %v, want %v", again, before)
	}
	// A minute with requests, then quiet minutes: the next roll freezes it.
	c.add(time.Minute) // 9:03
	a.Record(c.now(), Key{ServiceID: "svc"}, 200, time.Millisecond)
	m3 := a.slot(unixMinute(c.now()))
	c.add(5 * time.Minute) // 9:08
	a.Record(c.now(), Key{ServiceID: "other"}, 200, time.Millisecond)
	for m3.frozen.Load() == nil {
		if time.Now().After(deadline) {
			t.Fatal("9:03 was not frozen by the roll to 9:08")
		}
		time.Sleep(time.Millisecond)
	}
}
