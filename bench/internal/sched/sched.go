// Package sched waits for points in time precisely, for the open-loop load
// tools (loadgen, lambdadirect): on a thread of its own (runtime.LockOSThread)
// with a timer slack of 1 ns, it sleeps in the kernel until shortly before
// the time and spins for the rest, where the runtime's timers may wake a
// millisecond late on an idle process.
package sched

import (
	"syscall"
	"time"
	"unsafe"
)

// SetTimerSlack sets the calling thread's timer slack (prctl
// PR_SET_TIMERSLACK), so that nanosleep wakes when asked rather than up to
// 50 µs later.
func SetTimerSlack(ns uintptr) {
	const prSetTimerSlack = 29
	_, _, _ = syscall.Syscall6(syscall.SYS_PRCTL, prSetTimerSlack, ns, 0, 0, 0, 0)
}

// Waiter waits for a point in time: it sleeps in the kernel until shortly
// before it (by the oversleep it has observed, an exponentially weighted
// average capped at 100 µs) and spins on the clock for the rest.
type Waiter struct {
	oversleep time.Duration
	// NoSpin: trust the kernel's wake-up, never spin.
	NoSpin bool
}

// Until returns at t (at once when t has passed).
func (w *Waiter) Until(t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	if w.NoSpin {
		nanosleep(d)
		return
	}
	if s := d - w.oversleep; s > 0 {
		nanosleep(s)
		over := time.Since(t.Add(-d + s)) // how much later than asked it woke
		w.oversleep += (min(over, 100*time.Microsecond) - w.oversleep) / 8
	}
	for time.Now().Before(t) {
	}
}

// nanosleep sleeps in the kernel (the runtime hands this thread's P to
// another thread meanwhile).
func nanosleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for {
		_, _, e := syscall.Syscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), uintptr(unsafe.Pointer(&ts)), 0)
		if e != syscall.EINTR {
			return
		}
	}
}
