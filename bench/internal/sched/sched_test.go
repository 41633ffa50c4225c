package sched

import (
	"testing"
	"time"
)

// Until never returns before its time, sleeping or spinning.
func TestUntilNeverEarly(t *testing.T) {
	for _, w := range []*Waiter{{}, {NoSpin: true}} {
		for i := 0; i < 50; i++ {
			at := time.Now().Add(time.Duration(50+i*10) * time.Microsecond)
			w.Until(at)
			if now := time.Now(); now.Before(at) {
				t.Fatalf("NoSpin=%v: returned %v before its time", w.NoSpin, at.Sub(now))
			}
		}
		w.Until(time.Now().Add(-time.Second)) // a time past returns at once
	}
}
