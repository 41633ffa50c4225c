package upstream

import (
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Unix(1000, 0).UnixNano()

func sec(n float64) int64 { return int64(n * float64(time.Second)) }

func TestFailedCheckKeepsMarkDown(t *testing.T) {
	s := new(State)
	s.SetHealth(HealthHealthy, "")
	s.MarkDown(time.Unix(0, t0+sec(10)))
	// A check that failed below the unhealthy threshold records HEALTHY
	// again: that must not clear the mark-down (issue 10, item 1).
	s.SetHealth(HealthHealthy, "")
	if s.Available(t0 + sec(1)) {
		t.Fatal("recording HEALTHY cleared a passive mark-down")
	}
	// The failed check extends the mark-down to its next check.
	s.KeepDown(t0+sec(1), t0+sec(40))
	if s.Available(t0+sec(39)) || !s.MarkedDown(t0+sec(39)) {
		t.Fatal("KeepDown did not extend the mark-down")
	}
	if !s.Available(t0 + sec(40)) {
		t.Fatal("the extended mark-down does not expire")
	}
	// KeepDown never shortens and never revives an expired mark-down.
	s.KeepDown(t0+sec(2), t0+sec(20))
	if s.Available(t0 + sec(39)) {
		t.Fatal("KeepDown shortened a mark-down")
	}
	s.KeepDown(t0+sec(41), t0+sec(100))
	if !s.Available(t0 + sec(50)) {
		t.Fatal("KeepDown revived an expired mark-down")
	}
	// A passing check clears it, unless the check started before the
	// mark-down (its answer may predate the refusal).
	started := time.Now().UnixNano()
	time.Sleep(time.Millisecond)
	s.MarkDown(time.Unix(0, t0+sec(1000)))
	s.ClearMarkDown(started)
	if s.Available(t0 + sec(1)) {
		t.Fatal("a check that started before the mark-down cleared it")
	}
	s.ClearMarkDown(time.Now().UnixNano())
	if !s.Available(t0 + sec(1)) {
		t.Fatal("ClearMarkDown left the target down")
	}

	// A target with active checks stays down until its next check has
	// ended, however short the proxy's mark-down.
	c := new(State)
	c.SetCheckCycle(time.Hour)
	c.MarkDown(time.Now().Add(time.Second))
	if c.Available(time.Now().Add(time.Minute).UnixNano()) {
		t.Fatal("a checked target's mark-down lapsed before its next check")
	}
	if !c.Available(time.Now().Add(2 * time.Hour).UnixNano()) {
		t.Fatal("a checked target's mark-down outlasts its check cycle")
	}
}

func testRegistry(od OutlierDetection) *Registry { return &Registry{Outlier: &od} }

func TestEjection(t *testing.T) {
	r := testRegistry(OutlierDetection{ConsecutiveFailures: 3, BaseEjectionTime: 10 * time.Second,
		MaxEjectionTime: 25 * time.Second, MaxEjectionPercent: 50})
	tg := group("tg-1", 4)
	s := r.Get(tg.Targets[0].Key)
	now := t0
	report := func(o Outcome) bool { return !r.Report(tg, s, o, now).IsZero() }

	// A success between failures starts the count again.
	for _, o := range []Outcome{Status5xx, Reset, Success, Timeout, ConnectFailure} {
		if report(o) {
			t.Fatalf("ejected after %v", o)
		}
	}
	if !s.Available(now) {
		t.Fatal("unavailable before the threshold")
	}
	if !report(Reset) {
		t.Fatal("3 consecutive failures did not eject")
	}
	if s.Available(now+sec(9.9)) || !s.Ejected(now+sec(9.9)) {
		t.Fatal("not ejected for the base ejection time")
	}
	if got := s.EjectedUntil(); got != time.Unix(0, now+sec(10)) {
		t.Fatalf("ejected until %v, want +10s", got)
	}
	// Outcomes of requests in flight at the ejection do not count.
	for range 10 {
		if report(Status5xx) {
			t.Fatal("a report during the ejection ejected again")
		}
	}
	// Back, on probation: the first failure ejects again, for twice as long.
	now += sec(10)
	if !s.Available(now) {
		t.Fatal("still ejected after the base time")
	}
	if !report(Status5xx) {
		t.Fatal("a failure on probation did not eject")
	}
	if got := s.EjectedUntil(); got != time.Unix(0, now+sec(20)) {
		t.Fatalf("second ejection until %v, want +20s", s.EjectedUntil().Sub(time.Unix(0, now)))
	}
	// A success ends the probation; the third ejection is capped at 25s.
	now += sec(20)
	report(Success)
	for i := range 3 {
		if ej := report(Reset); ej != (i == 2) {
			t.Fatalf("after failure %d: ejected=%v", i+1, ej)
		}
	}
	if d := s.EjectedUntil().Sub(time.Unix(0, now)); d != 25*time.Second {
		t.Fatalf("third ejection lasts %v, want the 25s cap", d)
	}
	// After MaxEjectionTime in rotation the multiplier starts over.
	now += sec(25) + sec(25)
	report(Success)
	for range 3 {
		report(Reset)
	}
	if d := s.EjectedUntil().Sub(time.Unix(0, now)); d != 10*time.Second {
		t.Fatalf("ejection after a long good spell lasts %v, want the base 10s", d)
	}
}

func TestEjectionDisabled(t *testing.T) {
	for name, od := range map[string]OutlierDetection{
		"threshold 0": {ConsecutiveFailures: 0, BaseEjectionTime: time.Second, MaxEjectionTime: time.Second, MaxEjectionPercent: 50},
		"percent 0":   {ConsecutiveFailures: 1, BaseEjectionTime: time.Second, MaxEjectionTime: time.Second, MaxEjectionPercent: 0},
	} {
		r := testRegistry(od)
		tg := group("tg-1", 3)
		s := r.Get(tg.Targets[0].Key)
		for range 20 {
			if !r.Report(tg, s, Reset, t0).IsZero() {
				t.Fatalf("%s: ejected", name)
			}
		}
	}
	// A state not made by a registry has no outlier detection.
	s := new(State)
	if !new(Registry).Report(group("tg-1", 3), s, Reset, t0).IsZero() || s.Stalled(t0+sec(1000)) {
		t.Fatal("a zero State ejects or stalls")
	}
}

func TestMaxEjectionPercent(t *testing.T) {
	for _, tc := range []struct{ n, pct, want int }{
		{1, 50, 0}, {2, 50, 1}, {3, 50, 1}, {3, 10, 1}, {4, 50, 2}, {10, 50, 5}, {3, 100, 2}, {5, 0, 0},
	} {
		r := testRegistry(OutlierDetection{ConsecutiveFailures: 1, BaseEjectionTime: time.Minute,
			MaxEjectionTime: time.Minute, MaxEjectionPercent: tc.pct})
		tg := group("tg-1", tc.n)
		ejected := 0
		for _, tgt := range tg.Targets {
			s := r.Get(tgt.Key)
			for range 3 {
				r.Report(tg, s, Status5xx, t0)
			}
			if s.Ejected(t0) {
				ejected++
			}
		}
		if ejected != tc.want {
			t.Errorf("%d targets, %d%%: %d ejected, want %d", tc.n, tc.pct, ejected, tc.want)
		}
		// Whoever is left takes the traffic.
		p := &Picker{Registry: r, Now: func() int64 { return t0 }}
		if tgt, s := p.Pick(tg, ""); tc.n > 1 && (tgt == nil || s.Ejected(t0)) {
			t.Errorf("%d targets, %d%%: picked an ejected target", tc.n, tc.pct)
		}
	}
}

func TestStall(t *testing.T) {
	r := testRegistry(OutlierDetection{StallTimeout: 3 * time.Second})
	s := r.Get("tg/a/80")
	if s.Stalled(t0) {
		t.Fatal("idle target stalled")
	}
	// A long idle spell before the request does not count: the wait
	// starts with the first awaited request.
	s.Begin(t0)
	s.Begin(t0 + sec(1))
	if s.Stalled(t0+sec(2.9)) || s.Outstanding() != 2 || s.Awaiting() != 2 {
		t.Fatalf("stalled=%v outstanding=%d awaiting=%d", s.Stalled(t0+sec(2.9)), s.Outstanding(), s.Awaiting())
	}
	if !s.Stalled(t0+sec(3)) || s.Available(t0+sec(3)) {
		t.Fatal("no answer for the stall timeout: not stalled")
	}
	// An answer is progress: no stall for another timeout, though the
	// other request still waits.
	s.Answered(t0 + sec(4))
	if s.Stalled(t0+sec(6.9)) || s.Awaiting() != 1 || s.Outstanding() != 2 {
		t.Fatalf("after an answer: stalled=%v awaiting=%d outstanding=%d", s.Stalled(t0+sec(6.9)), s.Awaiting(), s.Outstanding())
	}
	if !s.Stalled(t0 + sec(7)) {
		t.Fatal("the remaining request's wait is not a stall")
	}
	// When the awaited requests end, the target is no longer stalled.
	s.End(false)
	s.End(true)
	if s.Stalled(t0+sec(100)) || s.Outstanding() != 0 || s.Awaiting() != 0 {
		t.Fatalf("after End: stalled=%v outstanding=%d awaiting=%d", s.Stalled(t0+sec(100)), s.Outstanding(), s.Awaiting())
	}
	// A response streaming its body for long is not awaited.
	s.Begin(t0 + sec(200))
	s.Answered(t0 + sec(200))
	if s.Stalled(t0+sec(300)) || s.Outstanding() != 1 {
		t.Fatal("a long response body counts as a stall")
	}
	s.End(true)

	off := testRegistry(OutlierDetection{}).Get("tg/b/80")
	off.Begin(t0)
	if off.Stalled(t0 + sec(1000)) {
		t.Fatal("stall detection disabled but stalled")
	}
}

func TestPickSkipsEjectedAndStalled(t *testing.T) {
	now := t0
	r := testRegistry(OutlierDetection{ConsecutiveFailures: 1, BaseEjectionTime: time.Minute,
		MaxEjectionTime: time.Minute, MaxEjectionPercent: 100, StallTimeout: time.Second})
	for _, policy := range []int{RoundRobin, LeastOutstanding} {
		p := &Picker{Registry: r, Policy: policy, Now: func() int64 { return now }}
		tg := group("tg-"+string(rune('a'+policy)), 3)
		r.Report(tg, r.Get(tg.Targets[0].Key), Reset, now)
		r.Get(tg.Targets[1].Key).Begin(now - sec(2))
		eq(t, counts(t, p, tg, "", 9), map[string]int{"10.0.0.3": 9})
		// All unavailable: fail open over all but the excluded (least
		// outstanding: the ejected one has nothing in flight).
		r.Get(tg.Targets[2].Key).Begin(now - sec(2))
		want := map[string]int{"10.0.0.1": 5, "10.0.0.2": 5}
		if policy == LeastOutstanding {
			want = map[string]int{"10.0.0.1": 10}
		}
		eq(t, counts(t, p, tg, tg.Targets[2].Key, 10), want)
	}
}

func TestPickExcept(t *testing.T) {
	for _, policy := range []int{RoundRobin, LeastOutstanding} {
		p := &Picker{Registry: new(Registry), Policy: policy}
		tg := group("tg-1", 3)
		for range 10 {
			tgt, _ := p.PickExcept(tg, []string{tg.Targets[0].Key, tg.Targets[2].Key})
			if tgt == nil || tgt.ID != "10.0.0.2" {
				t.Fatalf("policy %d: picked %v", policy, tgt)
			}
		}
		all := []string{tg.Targets[0].Key, tg.Targets[1].Key, tg.Targets[2].Key}
		if tgt, s := p.PickExcept(tg, all); tgt != nil || s != nil {
			t.Fatalf("policy %d: picked %v with every target excluded", policy, tgt)
		}
	}
}

func TestInflightConcurrent(t *testing.T) {
	s := new(Registry).Get("tg/a/80")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				now := t0 + int64(i)
				s.Begin(now)
				answered := (i+g)%3 != 0
				if answered {
					s.Answered(now)
				}
				if s.Outstanding() < 0 || s.Awaiting() < 0 || s.Awaiting() > s.Outstanding()+8 {
					t.Errorf("outstanding=%d awaiting=%d", s.Outstanding(), s.Awaiting())
				}
				s.End(answered)
			}
		})
	}
	wg.Wait()
	if s.Outstanding() != 0 || s.Awaiting() != 0 {
		t.Fatalf("outstanding=%d awaiting=%d after every request ended", s.Outstanding(), s.Awaiting())
	}
}

func TestRequestPathAllocs(t *testing.T) {
	r := new(Registry)
	tg := group("tg-1", 3)
	s := r.Get(tg.Targets[0].Key)
	p := &Picker{Registry: r}
	tried := [3]string{tg.Targets[1].Key}
	p.PickExcept(tg, tried[:1])
	if n := testing.AllocsPerRun(100, func() {
		now := time.Now().UnixNano()
		_, st := p.PickExcept(tg, tried[:1])
		st.Begin(now)
		st.Answered(now)
		st.End(true)
		r.Report(tg, st, Success, now)
		r.Report(tg, s, Status5xx, now)
		r.Report(tg, s, Success, now)
	}); n != 0 {
		t.Fatalf("the request path allocates %v times", n)
	}
}

func TestOutlierDetectionValidate(t *testing.T) {
	d := DefaultOutlierDetection
	if err := d.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for want, mut := range map[string]func(*OutlierDetection){
		"ConsecutiveFailures": func(o *OutlierDetection) { o.ConsecutiveFailures = -1 },
		"BaseEjectionTime":    func(o *OutlierDetection) { o.BaseEjectionTime = 0 },
		"MaxEjectionTime":     func(o *OutlierDetection) { o.MaxEjectionTime = o.BaseEjectionTime - 1 },
		"MaxEjectionPercent":  func(o *OutlierDetection) { o.MaxEjectionPercent = 101 },
		"StallTimeout":        func(o *OutlierDetection) { o.StallTimeout = -1 },
	} {
		o := DefaultOutlierDetection
		mut(&o)
		if err := o.Validate(); err == nil || !strings.HasPrefix(err.Error(), want+" ") {
			t.Errorf("%s out of range: %v", want, err)
		}
	}
	off := OutlierDetection{} // everything off is valid
	if err := off.Validate(); err != nil {
		t.Fatalf("all off: %v", err)
	}
}
