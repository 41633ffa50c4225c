package gcfloor

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		live, floor uint64
		want        int
	}{
		{8 * mib, 64 * mib, 800},   // small heap: may grow by the floor
		{10 * mib, 64 * mib, 640},  // rounded up: at least the floor
		{16 * mib, 64 * mib, 400},  //
		{3 * mib, 64 * mib, 1675},  // tiny heap: the runtime's minimum goal (4 MiB × GOGC/100) stays within live + floor
		{0, 64 * mib, 1600},        // before the first collection: a 64 MiB goal
		{1024, 64 * mib, 1600},     //
		{64 * mib, 64 * mib, 100},  // the floor equals Go's own pacing
		{500 * mib, 64 * mib, 100}, // large heap: never below Go's default
		{0, 1 << 40, maxPercent},   // capped
	} {
		if got := Percent(tc.live, tc.floor); got != tc.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", tc.live, tc.floor, got, tc.want)
		}
	}
}

// gogc reads the percentage in force from the runtime.
func gogc(t *testing.T) int {
	t.Helper()
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

func TestRunRaisesAndRestores(t *testing.T) {
	t.Setenv("GOGC", "") // Run treats an empty GOGC as unset
	before := gogc(t)
	runtime.GC() // a live-heap figure to work from
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); Run(ctx, 1<<30, 10*time.Millisecond, slog.New(slog.DiscardHandler)) }()
	deadline := time.Now().Add(5 * time.Second)
	for gogc(t) <= 100 {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC still %d with a 1 GiB floor over a test's heap", gogc(t))
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if got := gogc(t); got != before {
		t.Fatalf("GOGC %d after Run returned, want the original %d", got, before)
	}
}

func TestRunRespectsGOGC(t *testing.T) {
	t.Setenv("GOGC", "100")
	before := gogc(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(context.Background(), 1<<30, time.Millisecond, slog.New(slog.DiscardHandler))
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return with GOGC set")
	}
	if got := gogc(t); got != before {
		t.Fatalf("GOGC changed to %d although the environment sets it", got)
	}
}

func TestChanged(t *testing.T) {
	if changed(800, 820) || !changed(800, 900) || !changed(800, 700) || changed(100, 100) {
		t.Fatal("changed: want only moves of more than 5%")
	}
}

// The heap goal the runtime works to stays within live + floor: the
// percentage never lets the runtime's own minimum goal (4 MiB × GOGC/100)
// overshoot it.
func TestRunHeapGoal(t *testing.T) {
	t.Setenv("GOGC", "")
	const floor = 16 << 20
	runtime.GC()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Run(ctx, floor, 10*time.Millisecond, slog.New(slog.DiscardHandler))
	deadline := time.Now().Add(5 * time.Second)
	for gogc(t) <= 100 {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC still %d with a 16 MiB floor", gogc(t))
		}
		time.Sleep(5 * time.Millisecond)
	}
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	goal, live := s[0].Value.Uint64(), s[1].Value.Uint64()
	if goal > live+floor+floor/20 || goal < floor/2 {
		t.Fatalf("heap goal %d MiB with %d MiB live and a 16 MiB floor (GOGC %d)", goal>>20, live>>20, gogc(t))
	}
}
