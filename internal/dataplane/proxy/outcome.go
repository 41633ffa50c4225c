package proxy

// Retries and what the proxy tells the upstream registry after each
// attempt (forward, its tryH1 and tryStd, copyResponse).
//
// Retries. A request tries at most maxTargets targets, all within its one
// request timeout. It moves on to another target only when the target
// cannot have acted on it (RFC 9110 §9.2.2: a proxy must not retry a
// non-idempotent request automatically, unless it can tell the original was
// never applied):
//   - the connection could not be made (refused, unreachable, dial
//     timeout): nothing reached the target and the client's body is still
//     unread (it is read only as it is written), so any request is retried;
//   - a new connection broke before any byte of the response arrived:
//     retried when the request is idempotent without a body, or when not
//     one byte of it was written (a write that succeeded only reached the
//     kernel, but the target may have read it: a non-idempotent request is
//     then not retried);
//   - a pooled connection broke before any byte of the response arrived
//     (the target closed it while idle): the same rule, but the request is
//     sent again on a new connection to the same target first, and goes
//     elsewhere only when that fails too. Before a request that could not
//     be retried goes out on a pooled connection, the connection is checked
//     for a close the target already sent (a non-blocking peek), so that
//     the usual case — a target that closed its idle connections, or died —
//     costs no request.
//
// A request whose body may have started streaming to a target is never
// retried: the body cannot be replayed.
//
// Outcomes (upstream.Registry.Report, for outlier ejection): a response
// below 500 whose body arrived whole is a success; a 5xx answer, a failed
// connection, a connection broken before or during the response, and a
// timeout are failures. A pooled connection found closed is neither (idle
// connections close), nor is a request whose client went away.

import (
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// maxTargets bounds the targets one request tries.
const maxTargets = 3

// Outcomes by short names, for the retry loops.
const (
	outTimeout = upstream.Timeout
	outReset   = upstream.Reset
)

// attempt is the target a response came from, for copyResponse's report.
type attempt struct {
	tg     *snapshot.TargetGroup
	target *snapshot.Target
	st     *upstream.State
}

// report records the outcome of an attempt and logs an ejection.
func (p *Proxy) report(a attempt, o upstream.Outcome) {
	if until := p.cfg.Registry.Report(a.tg, a.st, o, time.Now().UnixNano()); !until.IsZero() {
		p.log.Info("target ejected", "target", a.target.Key, "cause", o.String(),
			"until", until.UTC().Format(time.RFC3339))
	}
}

// connectFailed handles a target that could not be reached: passive
// detection keeps it out of rotation (upstream.State.MarkDown) and the
// failure counts toward its ejection.
func (p *Proxy) connectFailed(a attempt, err error) {
	p.dialed(a.tg, dialFailure(err))
	a.st.MarkDown(time.Now().Add(p.cfg.PassiveDownFor))
	p.log.Debug("target unreachable; marked down", "target", a.target.Key, "err", err)
	p.report(a, upstream.ConnectFailure)
}

// tries is the targets a request tried so far.
type tries struct {
	keys [maxTargets]string
	n    int
}

// next notes that cur failed and returns another target of tg to try, or
// nil when the request has tried enough targets, its time is up, or no
// other target is left.
func (p *Proxy) next(tg *snapshot.TargetGroup, tr *tries, cur *snapshot.Target, deadline time.Time) (*snapshot.Target, *upstream.State) {
	tr.keys[tr.n] = cur.Key
	tr.n++
	if tr.n >= maxTargets || !time.Now().Before(deadline) {
		return nil, nil
	}
	return p.picker.PickExcept(tg, tr.keys[:tr.n])
}

// resendable reports whether a request whose connection broke may be sent
// again (on a new connection or to another target): not when any byte of
// the response arrived (the target acted on it) or when its body may have
// been read; otherwise when it is idempotent (RFC 9110 §9.2.2), or when
// not one byte of it was written.
func resendable(gotByte, hasBody, idempotent, wrote bool) bool {
	return !gotByte && !hasBody && (idempotent || !wrote)
}
