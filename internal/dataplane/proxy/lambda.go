package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
	"github.com/trellis-net/trellis/internal/dataplane/lambda"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// LAMBDA target groups: the request becomes the Lattice event of the
// group's version (package lambda), the group's one target — a function
// ARN — is invoked through Config.Lambda within the request timeout, and
// its response becomes the answer. No retry: an invocation may have run
// the function. No health checks and no outlier ejection: Lattice has none
// for Lambda targets, and the function's failures are answered as they come
// (docs/lambda.md has the table).

// lambdaCall is what the handler knows of a request routed to a LAMBDA
// group.
type lambdaCall struct {
	snap   *snapshot.Snapshot
	vpc    *snapshot.VPC
	svc    *snapshot.Service
	tg     *snapshot.TargetGroup
	reqID  []string
	id     *snapshot.Identity // nil for anonymous callers
	target string             // the normalised request-target (normalizeTarget)
	rl     *reqLog
}

// lambdaBuf holds a request's body and event between requests: a warm
// invocation allocates neither.
type lambdaBuf struct{ body, event []byte }

var lambdaBufs = sync.Pool{New: func() any { return new(lambdaBuf) }}

// maxPooledLambdaBuf bounds what goes back to the pool: a 6 MB body must
// not stay pinned for every small request after it.
const maxPooledLambdaBuf = 256 << 10

func (b *lambdaBuf) release() {
	if cap(b.body) > maxPooledLambdaBuf {
		b.body = nil
	}
	if cap(b.event) > maxPooledLambdaBuf {
		b.event = nil
	}
	lambdaBufs.Put(b)
}

func (h *handler) serveLambda(w http.ResponseWriter, r *http.Request, c *lambdaCall) {
	p, tg, rl := h.p, c.tg, c.rl
	inv := p.cfg.Lambda
	if inv == nil {
		refuse(w, r, rl, refNoInvoker, tg.ID)
		return
	}
	if len(tg.Targets) == 0 {
		refuse(w, r, rl, refNoTargets, tg.ID)
		return
	}
	fn := tg.Targets[0].ID // LAMBDA groups take exactly one target (reference §2.5)
	// Refused before anything is invoked, as the body cannot reach the
	// function whole (reference §7.2; the status is unverified).
	if r.ContentLength > lambda.MaxPayload {
		refuse(w, r, rl, refLambdaBodyTooBig, lambda.MaxPayload)
		return
	}
	buf := lambdaBufs.Get().(*lambdaBuf)
	defer buf.release()
	var err error
	buf.body = buf.body[:0]
	if n := r.ContentLength; n > 0 && int64(cap(buf.body)) <= n {
		buf.body = slices.Grow(buf.body, int(n)+1) // +1: EOF is read into spare room
	}
	buf.body, err = readBody(buf.body, r.Body)
	if err != nil {
		if r.Context().Err() != nil {
			if rl != nil {
				rl.e.FailureReason = accesslog.ClientConnectionClosed
			}
			refuse(w, r, rl, refClientGone)
			return
		}
		if rl != nil {
			rl.e.FailureReason = accesslog.ClientProtocolError
		}
		refuse(w, r, rl, refClientBody)
		return
	}
	if len(buf.body) > lambda.MaxPayload {
		refuse(w, r, rl, refLambdaBodyTooBig, lambda.MaxPayload)
		return
	}

	// The header a target gets, in place: the client's copies of what the
	// data plane asserts and the hop-by-hop fields go, Lattice's fields
	// come in (the same rule as every transport: fwdHeaders.apply).
	_, hadUA := r.Header["User-Agent"]
	fwd := h.forwardHeaders(r, c.vpc, c.svc, tg, c.reqID, c.id)
	fwd.apply(r.Header)
	if !hadUA {
		delete(r.Header, "User-Agent") // apply keeps its absence for net/http with an empty value
	}
	// No connection to the function: TE (hop-by-hop) and Expect (answered
	// by the server as the body was read) mean nothing to it.
	delete(r.Header, "Te")
	delete(r.Header, "Expect")
	ev := lambda.Request{Method: r.Method, Target: c.target, Host: r.Host, Header: r.Header, Body: buf.body}
	if ev.Body == nil {
		ev.Body = []byte{}
	}
	if tg.LambdaEventVersion == lambda.EventV2 {
		ctx := &ev.Context
		if sn := c.vpc.ServiceNetwork; sn != nil {
			ctx.ServiceNetworkARN = sn.ARN
		}
		ctx.ServiceARN, ctx.TargetGroupARN, ctx.Region = c.svc.ARN, tg.ARN, c.snap.Region
		ctx.Time = time.Now()
		if rl != nil {
			ctx.Time = rl.e.Start
		}
		ctx.Identity.SourceVpcARN = c.vpc.ARN
		if id := c.id; id != nil {
			// SigV4 succeeded against an AWS_IAM auth type (reference §7.2).
			ctx.Identity.Type = "AWS_IAM"
			ctx.Identity.Principal, ctx.Identity.PrincipalOrgID, ctx.Identity.SessionName = id.PrincipalARN, id.OrgID, id.SessionName
		}
	}
	buf.event = lambda.AppendEvent(buf.event[:0], tg.LambdaEventVersion, &ev)

	ctx, cancel := context.WithTimeoutCause(r.Context(), p.cfg.RequestTimeout, errUpstreamTimeout)
	defer cancel()
	if rl != nil {
		rl.sentAt = time.Now()
	}
	res, err := inv.Invoke(ctx, fn, buf.event)
	if rl != nil {
		rl.headersAt = time.Now()
	}
	if err == nil && ctx.Err() != nil {
		// The answer came after the request's time was up (or its client
		// left): late is as good as none.
		err = context.Cause(ctx)
	}
	if err != nil {
		p.lambdaFailed(w, r, rl, ctx, fn, tg, err)
		return
	}
	if res.FunctionError != "" {
		p.log.Debug("function error", "function", fn, "error", res.FunctionError)
		refuse(w, r, rl, refLambdaFuncError, fn, res.FunctionError)
		return
	}
	out, err := lambda.DecodeResponse(res.Payload)
	if err == nil && out.StatusCode < 200 {
		// An informational status cannot be a final answer.
		err = errors.New("statusCode " + strconv.Itoa(out.StatusCode) + " is not a final status")
	}
	if err != nil {
		p.log.Debug("function response refused", "function", fn, "err", err)
		if errors.Is(err, lambda.ErrPayloadTooLarge) {
			refuse(w, r, rl, refLambdaRespTooBig, fn)
			return
		}
		refuse(w, r, rl, refLambdaMalformed, fn, err.Error())
		return
	}
	writeLambdaResponse(w, out)
}

// lambdaFailed answers an invocation that did not return.
func (p *Proxy) lambdaFailed(w http.ResponseWriter, r *http.Request, rl *reqLog, ctx context.Context, fn string, tg *snapshot.TargetGroup, err error) {
	p.log.Debug("invocation failed", "function", fn, "err", err)
	switch {
	case context.Cause(ctx) == errUpstreamTimeout || errors.Is(err, lambda.ErrTimeout):
		if rl != nil {
			rl.e.FailureReason = accesslog.TargetDataTimeout
		}
		refuse(w, r, rl, refTimeout)
	case r.Context().Err() != nil:
		if rl != nil {
			rl.e.FailureReason = accesslog.ClientConnectionClosed
		}
		refuse(w, r, rl, refClientGone)
	case errors.Is(err, lambda.ErrFunctionNotFound):
		refuse(w, r, rl, refLambdaNotFound, fn, tg.ID)
	case errors.Is(err, lambda.ErrThrottled):
		refuse(w, r, rl, refLambdaThrottled, fn)
	case errors.Is(err, lambda.ErrPayloadTooLarge):
		// The event (a base64 body grows by a third) was over Lambda's
		// limit.
		refuse(w, r, rl, refLambdaBodyTooBig, lambda.MaxPayload)
	default:
		refuse(w, r, rl, refLambdaFailed, fn)
	}
}

// writeLambdaResponse writes a function's answer: its checked fields (the
// request ID stays the data plane's) and a Content-Length computed from
// the body (reference §7.2).
func writeLambdaResponse(w http.ResponseWriter, out *lambda.Response) {
	rh := w.Header()
	for k, v := range out.Header {
		if k != hdrRequestID {
			rh[k] = v
		}
	}
	noBody := out.StatusCode == http.StatusNoContent || out.StatusCode == http.StatusNotModified
	if noBody {
		delete(rh, "Content-Length")
	} else {
		rh["Content-Length"] = []string{strconv.Itoa(len(out.Body))}
	}
	w.WriteHeader(out.StatusCode)
	if !noBody && len(out.Body) > 0 {
		_, _ = w.Write(out.Body)
	}
}

// readBody appends r's body to dst, reading at most one byte more than
// lambda.MaxPayload (enough to tell it is over).
func readBody(dst []byte, body io.Reader) ([]byte, error) {
	if body == nil || body == http.NoBody {
		return dst, nil
	}
	lr := io.LimitedReader{R: body, N: lambda.MaxPayload + 1}
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := lr.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}
