package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/upstream"
)

// maxBody is how much of a response body a check reads. The whole body is
// read (within the check's timeout) so that a target that breaks off its
// responses fails its checks as it fails requests; past maxBody the check
// stops reading and judges by the status alone.
const maxBody = 1 << 20

// prober is the health-check state of one probed target. It has no
// goroutine of its own: the checker's scheduler runs its checks.
type prober struct {
	key      string // the target's registry key
	hostPort string // where to dial; also the Host header
	g        *group // the check configuration of the target's group
	state    *upstream.State
	log      *slog.Logger // the checker's

	// Scheduling, guarded by Checker.mu.
	due    time.Duration // on the checker's clock
	index  int           // in the queue; -1 when not queued (checking, or stopped)
	cancel context.CancelFunc
	done   chan struct{} // closed when the check in flight has ended

	// mu orders a check's result against a stop: no result is recorded
	// once stopped is set.
	mu      sync.Mutex
	stopped bool

	// Owned by the check in flight (one at a time).
	status upstream.Health
	passes int // consecutive passing checks
	fails  int // consecutive failing checks
}

// same reports whether w asks for exactly what p does.
func (p *prober) same(w *plan) bool {
	return p.hostPort == w.hostPort && p.g.spec == w.g.spec
}

// check runs one probe and returns "" when it passed, else a human cause
// ("timeout after 5s", "connection refused", "status 503 not in 200",
// "response body: connection reset").
func (p *prober) check(ctx context.Context, c *Checker) (cause string) {
	sp := &p.g.spec
	ctx, cancel := context.WithTimeout(ctx, sp.timeout)
	defer cancel()
	start := c.cfg.Now()
	url := sp.scheme + "://" + p.hostPort + sp.path
	defer func() {
		if cause != "" && c.ctx.Err() == nil {
			p.log.Debug("health check failed", "target", p.key, "url", url, "cause", cause,
				"elapsed", c.cfg.Now().Sub(start))
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "bad request: " + err.Error()
	}
	req.Host = p.hostPort
	req.Header.Set("User-Agent", UserAgent)
	resp, err := p.g.client.Do(req)
	if err != nil {
		return p.describe(ctx, err)
	}
	defer resp.Body.Close()
	if !p.matches(resp.StatusCode) {
		return fmt.Sprintf("status %d not in %s", resp.StatusCode, sp.matcher)
	}
	// The status line alone would pass a target that resets every
	// response after its headers.
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody)); err != nil {
		return "response body: " + p.describe(ctx, err)
	}
	return ""
}

func (p *prober) matches(code int) bool {
	for _, r := range p.g.codes {
		if code >= r.Lo && code <= r.Hi {
			return true
		}
	}
	return false
}

// describe turns a probe error into a short cause.
func (p *prober) describe(ctx context.Context, err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout after " + p.g.spec.timeout.String()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed mid-response"
	}
	return err.Error()
}

// record applies one check result to the state machine (reference §6):
// INITIAL becomes HEALTHY after one pass; HEALTHY or INITIAL becomes
// UNHEALTHY after `unhealthy` consecutive failures; UNHEALTHY becomes
// HEALTHY after `healthy` consecutive passes.
//
// A passive mark-down (a refused connection, seen by the proxy) is about
// reachability, which a check tests directly: a pass clears it (unless the
// mark-down came after the check started), and a
// failure — even one below the unhealthy threshold, which leaves the status
// as it was — keeps it standing until the next check. A failed check never
// makes a target look better.
// It reports whether the status changed.
func (p *prober) record(cause string, started time.Time) (changed bool) {
	prev := p.status
	sp := &p.g.spec
	if cause == "" {
		p.fails = 0
		p.passes++
		switch p.status {
		case upstream.HealthInitial:
			p.status = upstream.HealthHealthy
		case upstream.HealthUnhealthy:
			if p.passes >= sp.healthy {
				p.status = upstream.HealthHealthy
			}
		}
	} else {
		p.passes = 0
		p.fails++
		if p.status != upstream.HealthUnhealthy && p.fails >= sp.unhealthy {
			p.status = upstream.HealthUnhealthy
		}
	}
	reason := ""
	if p.status == upstream.HealthUnhealthy {
		reason = ReasonHealthCheckFailed
	}
	p.state.SetHealth(p.status, reason)
	if cause == "" {
		p.state.ClearMarkDown(started.UnixNano())
	} else {
		now := time.Now().UnixNano()
		p.state.KeepDown(now, now+int64(sp.cycle()))
	}
	if p.status != prev {
		attrs := []any{"target", p.key, "from", prev.String(), "to", p.status.String()}
		if cause != "" {
			attrs = append(attrs, "cause", cause)
		}
		p.log.Info("target health changed", attrs...)
	}
	return p.status != prev
}
