package health

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/model"
)

// maxJitter caps the random delay before a prober's first check.
const maxJitter = time.Second

// prober checks one target every interval and records its status.
type prober struct {
	spec   spec
	codes  []model.CodeRange
	url    string
	client *http.Client
	tr     *http.Transport
	state  *upstream.State
	log    *slog.Logger
	now    func() time.Time

	ctx    context.Context // ends when the prober is stopped or the checker closed
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns

	// Owned by the run goroutine.
	status upstream.Health
	passes int // consecutive passing checks
	fails  int // consecutive failing checks
}

func newProber(c *Checker, w *plan, st *upstream.State, start upstream.Health) *prober {
	var protos http.Protocols
	switch {
	case !w.spec.http2:
		protos.SetHTTP1(true)
	case w.spec.scheme == "https":
		protos.SetHTTP2(true)
	default:
		protos.SetUnencryptedHTTP2(true) // h2c with prior knowledge
	}
	tr := &http.Transport{
		Proxy: nil, // probes go straight to the target
		DialContext: (&net.Dialer{
			Timeout:   w.spec.timeout,
			KeepAlive: -1,
		}).DialContext,
		// Lattice does not validate target certificates.
		TLSClientConfig:        &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // by design
		DisableKeepAlives:      true,                                  // a fresh connection per check
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
		Protocols:              &protos,
	}
	p := &prober{
		spec:  w.spec,
		codes: w.codes,
		url:   w.spec.scheme + "://" + w.spec.hostPort + w.spec.path,
		tr:    tr,
		client: &http.Client{
			Transport: tr,
			// A redirect is an answer: its status is judged by the matcher.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		state:  st,
		log:    c.log.With("target", w.spec.key),
		now:    c.cfg.Now,
		done:   make(chan struct{}),
		status: start,
	}
	p.ctx, p.cancel = context.WithCancel(c.ctx)
	return p
}

// run checks the target until the prober's context ends: the first check
// right away (after a small random jitter, so probers started together
// spread out), then one every interval, counted from the start of the
// previous check.
func (p *prober) run() {
	defer close(p.done)
	defer p.tr.CloseIdleConnections()
	timer := time.NewTimer(p.jitter())
	defer timer.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-timer.C:
		}
		started := time.Now()
		cause := p.check()
		if p.ctx.Err() != nil {
			return // stopped mid-check: the result belongs to nobody
		}
		p.record(cause)
		timer.Reset(max(p.spec.interval-time.Since(started), 0))
	}
}

func (p *prober) jitter() time.Duration {
	j := min(p.spec.interval/10, maxJitter)
	if j <= 0 {
		return 0
	}
	return rand.N(j)
}

// check runs one probe and returns "" when it passed, else a human cause
// ("timeout after 5s", "connection refused", "status 503 not in 200").
func (p *prober) check() (cause string) {
	ctx, cancel := context.WithTimeout(p.ctx, p.spec.timeout)
	defer cancel()
	start := p.now()
	defer func() {
		if cause != "" && p.ctx.Err() == nil {
			p.log.Debug("health check failed", "url", p.url, "cause", cause,
				"elapsed", p.now().Sub(start))
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url, nil)
	if err != nil {
		return "bad request: " + err.Error()
	}
	req.Host = p.spec.hostPort
	req.Header.Set("User-Agent", UserAgent)
	resp, err := p.client.Do(req)
	if err != nil {
		return p.describe(ctx, err)
	}
	// The body is not read: DisableKeepAlives closes the connection anyway.
	_ = resp.Body.Close()
	p.tr.CloseIdleConnections()
	if !p.matches(resp.StatusCode) {
		return fmt.Sprintf("status %d not in %s", resp.StatusCode, p.spec.matcher)
	}
	return ""
}

func (p *prober) matches(code int) bool {
	for _, r := range p.codes {
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
		return "timeout after " + p.spec.timeout.String()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	}
	return err.Error()
}

// record applies one check result to the state machine (reference §6):
// INITIAL becomes HEALTHY after one pass; HEALTHY or INITIAL becomes
// UNHEALTHY after `unhealthy` consecutive failures; UNHEALTHY becomes
// HEALTHY after `healthy` consecutive passes. Every result is written to
// the registry, so a pass also clears a passive mark-down.
func (p *prober) record(cause string) {
	prev := p.status
	if cause == "" {
		p.fails = 0
		p.passes++
		switch p.status {
		case upstream.HealthInitial:
			p.status = upstream.HealthHealthy
		case upstream.HealthUnhealthy:
			if p.passes >= p.spec.healthy {
				p.status = upstream.HealthHealthy
			}
		}
	} else {
		p.passes = 0
		p.fails++
		if p.status != upstream.HealthUnhealthy && p.fails >= p.spec.unhealthy {
			p.status = upstream.HealthUnhealthy
		}
	}
	reason := ""
	if p.status == upstream.HealthUnhealthy {
		reason = ReasonHealthCheckFailed
	}
	p.state.SetHealth(p.status, reason)
	if p.status != prev {
		attrs := []any{"from", prev.String(), "to", p.status.String()}
		if cause != "" {
			attrs = append(attrs, "cause", cause)
		}
		p.log.Info("target health changed", attrs...)
	}
}
