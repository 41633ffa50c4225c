package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// A runner is one long-running part of the App: the store, the snapshot
// watcher, the VPC networks, the health checker, the access logs, the
// ingress, DNS, the API. The App starts its runners in order and closes
// them in the reverse order (Envoy Gateway's shape), so that each part
// starts after what it follows and stops before it: the ingress closes
// before the access logs take their last records, the store closes last.
type runner struct {
	name string
	// start brings the part up. ctx ends when the runner is closed (before
	// close is called); loops the part needs run through g, and close
	// waits for them. Nil for a part that is up once made (the store, the
	// access logs): it only needs closing in its turn.
	start func(ctx context.Context, g *loops) error
	// close stops the part, bounded by ctx; nil when cancelling start's
	// ctx is all it takes.
	close func(ctx context.Context) error
}

// loops are the goroutines of one runner.
type loops struct{ wg sync.WaitGroup }

// Go runs f in a goroutine the runner's close waits for. f must return
// when the runner's ctx ends.
func (l *loops) Go(f func()) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		f()
	}()
}

// wait waits for the loops to return, or for ctx to end: false then.
func (l *loops) wait(ctx context.Context) bool {
	done := make(chan struct{})
	go func() {
		l.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		select {
		case <-done: // returned as ctx ended
			return true
		default:
			return false
		}
	}
}

// runners is the ordered list of the App's started runners.
type runners struct {
	up []*startedRunner
}

type startedRunner struct {
	runner
	cancel context.CancelFunc
	loops  *loops
}

// start starts r; on failure it closes nothing (the caller closes the
// runners already started: see closeAll) and names r in the error.
func (rs *runners) start(r runner) error {
	ctx, cancel := context.WithCancel(context.Background())
	s := &startedRunner{runner: r, cancel: cancel, loops: &loops{}}
	if r.start == nil {
		rs.up = append(rs.up, s)
		return nil
	}
	if err := r.start(ctx, s.loops); err != nil {
		cancel()
		s.loops.wg.Wait()
		return fmt.Errorf("%s: %w", r.name, err)
	}
	rs.up = append(rs.up, s)
	return nil
}

// closeAll closes the started runners, last started first: each one's
// ctx is cancelled (its loops stop following changes), then it is closed
// (bounded by ctx), then its loops are waited for (also bounded by ctx:
// the whole stop takes at most the shutdown timeout). It returns every
// close's error, named.
func (rs *runners) closeAll(ctx context.Context) error {
	var errs []error
	for i := len(rs.up) - 1; i >= 0; i-- {
		s := rs.up[i]
		s.cancel()
		if s.close != nil {
			if err := s.close(ctx); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.name, err))
			}
		}
		if !s.loops.wait(ctx) {
			// The stop is bounded by the shutdown timeout: a loop still
			// running (stuck on a store call) ends when the store closes.
			errs = append(errs, fmt.Errorf("%s: still running at the end of the shutdown timeout", s.name))
		}
	}
	rs.up = nil
	return errors.Join(errs...)
}
