package proxy

import (
	"errors"
	"io"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
	"github.com/trellis-net/trellis/internal/dataplane/h1"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// AccessLogger receives a record of every request to a service or network
// with access log subscriptions, or that someone taps (`trellis logs
// tail`): accesslog.Logger.
type AccessLogger interface {
	Log(e *accesslog.Entry, svcSubs, snSubs []*snapshot.LogSubscription)
	// Tapped reports whether anyone follows the service's or the
	// network's records live (by ARN; "" for none). Asked per request:
	// it must not lock or allocate.
	Tapped(serviceARN, serviceNetworkARN string) bool
}

// wantsLog reports whether a request from vpc to svc (nil: none) needs its
// access log record: the service or the network has subscriptions, or
// someone taps one of them. Allocation-free.
func wantsLog(al AccessLogger, vpc *snapshot.VPC, svc *snapshot.Service) bool {
	if al == nil {
		return false
	}
	var svcARN, snARN string
	if svc != nil {
		if len(svc.AccessLogs) > 0 {
			return true
		}
		svcARN = svc.ARN
	}
	if sn := vpc.ServiceNetwork; sn != nil {
		if len(sn.AccessLogs) > 0 {
			return true
		}
		snARN = sn.ARN
	}
	return al.Tapped(svcARN, snARN)
}

// reqLog gathers a request's access log record as the request goes
// through the proxy. It exists only while access logging is configured;
// the record is written only when the service or its network has
// subscriptions.
type reqLog struct {
	e       accesslog.Entry
	svcSubs []*snapshot.LogSubscription
	snSubs  []*snapshot.LogSubscription
	grpc    bool
	// When the request went to the target and when its response headers
	// came back; zero when it did not get that far.
	sentAt, headersAt time.Time
	body              *countingBody // net/http servers: counts the request body
	// target is the request-target the target received (the normalised
	// path and the query); "" when the request was refused before.
	target string
	// tunnel is the upgraded WebSocket session, if any: its bytes are
	// the record's (websocket.go).
	tunnel *tunnel
}

var reqLogPool = sync.Pool{New: func() any { return new(reqLog) }}

// newReqLog begins the record of a request from vpc for svc (nil when the
// VPC reaches no such service), from the pool; release returns it.
func newReqLog(vpc *snapshot.VPC, svc *snapshot.Service, reqID string) *reqLog {
	rl := reqLogPool.Get().(*reqLog)
	e := &rl.e
	e.Start = time.Now()
	e.RequestID = reqID
	e.GRPCStatus = -1
	e.RequestToTarget, e.ResponseFromTarget = -1, -1
	e.SourceVPCID, e.SourceVPCARN = vpc.ID, vpc.ARN
	if sn := vpc.ServiceNetwork; sn != nil {
		rl.snSubs, e.ServiceNetworkARN = sn.AccessLogs, sn.ARN
	}
	if svc != nil {
		rl.svcSubs, e.ServiceARN = svc.AccessLogs, svc.ARN
	}
	return rl
}

func (rl *reqLog) release() {
	*rl = reqLog{}
	reqLogPool.Put(rl)
}

// wrap returns the writer the rest of the proxy must use for r: net/http's
// writers get wrapped to learn the status and size (the proxy's own server
// keeps them), and their request bodies to count what is read.
func (rl *reqLog) wrap(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	if _, _, ok := h1.ResponseStats(w); ok {
		return w
	}
	if sw, ok := w.(*statsWriter); ok {
		// Already wrapped for the observer (statsOf): share its counts.
		rl.body, _ = r.Body.(*countingBody)
		return sw
	}
	if r.Body != nil && r.Body != http.NoBody {
		rl.body = &countingBody{rc: r.Body}
		r.Body = rl.body
	}
	return &statsWriter{ResponseWriter: w}
}

// finishLog completes the record once the response is over (or aborted),
// hands it to the logger and recycles rl.
func (h *handler) finishLog(w http.ResponseWriter, r *http.Request, rl *reqLog) {
	defer rl.release()
	end := time.Now()
	e := &rl.e
	if status, written, ok := h1.ResponseStats(w); ok {
		e.Status, e.BytesSent = status, written
		if n, ok := h1.BodyBytesRead(r.Body); ok {
			e.BytesReceived = n
		}
	} else if w, ok := w.(*statsWriter); ok {
		e.Status, e.BytesSent = w.status, w.written
		if rl.body != nil {
			e.BytesReceived = rl.body.n
		}
	}
	if t := rl.tunnel; t != nil {
		e.BytesSent, e.BytesReceived = t.sent.Load(), t.received.Load()
	}
	if e.Status == 0 {
		e.Status = http.StatusOK // nothing written: the server answers 200 with no body
	}
	if ci := h1.ConnInfoOf(r.Context()); ci != nil && ci.Peer.IsValid() {
		e.Source = ci.Peer
	} else if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		e.Source = ap
	}
	e.Method, e.Path, e.Host = r.Method, r.RequestURI, r.Host
	if rl.target != "" {
		e.Path = rl.target // the path that was judged and forwarded
	} else if e.Path == "" && r.URL != nil {
		e.Path = r.URL.RequestURI()
	}
	e.Protocol = r.Proto
	if r.ProtoMajor == 2 {
		e.Protocol = "HTTP/2"
	}
	if ua := r.Header["User-Agent"]; len(ua) > 0 {
		e.UserAgent = ua[0]
	}
	if rl.grpc {
		e.GRPCStatus = grpcStatus(w.Header())
	}
	e.Duration = end.Sub(e.Start)
	if !rl.sentAt.IsZero() {
		e.RequestToTarget = rl.sentAt.Sub(e.Start)
	}
	if !rl.headersAt.IsZero() {
		e.ResponseFromTarget = end.Sub(rl.headersAt)
	}
	if e.FailureReason == "" && r.Context().Err() != nil {
		e.FailureReason = accesslog.ClientConnectionClosed
	}
	h.p.cfg.AccessLog.Log(e, rl.svcSubs, rl.snSubs)
}

// rejected records a request the server refused before routing it
// (malformed: 400, 431, 501, 505) in the access logs of the socket's
// network: it names no service, so only the network's subscriptions (and
// taps) get it.
func (h *handler) rejected(status int, peer netip.AddrPort, bytesSent int64) {
	if h.p.cfg.AccessLog == nil {
		return
	}
	snap := h.p.cfg.Holder.Load()
	if snap == nil {
		return
	}
	vpc := snap.VPCs[h.vpcID]
	if vpc == nil || vpc.ServiceNetwork == nil || !wantsLog(h.p.cfg.AccessLog, vpc, nil) {
		return
	}
	rl := newReqLog(vpc, nil, newUUID())
	defer rl.release()
	e := &rl.e
	e.Source, e.Status, e.BytesSent = peer, status, bytesSent
	e.FailureReason = accesslog.ClientProtocolError
	h.p.cfg.AccessLog.Log(e, nil, rl.snSubs)
}

// grpcStatus is the grpc-status a response ended with (trailer, or header
// of a trailers-only response); -1 when there is none.
func grpcStatus(hd http.Header) int {
	v := hd[http.TrailerPrefix+"Grpc-Status"]
	if len(v) == 0 {
		v = hd["Grpc-Status"]
	}
	if len(v) == 0 {
		return -1
	}
	n, err := strconv.Atoi(v[0])
	if err != nil {
		return -1
	}
	return n
}

// targetFailure names why a target exchange failed, as Lattice's
// failureReason does.
func targetFailure(err error, timedOut, clientGone bool) string {
	var bad h1.ErrBadResponse
	var body *h1.ClientBodyError
	switch {
	case clientGone:
		return accesslog.ClientConnectionClosed
	case errors.As(err, &body):
		return accesslog.ClientProtocolError
	case isDialError(err):
		return accesslog.TargetConnectionError
	case timedOut, errors.Is(err, os.ErrDeadlineExceeded):
		return accesslog.TargetDataTimeout
	case errors.As(err, &bad), errors.Is(err, h1.ErrSwitchingProtocols), errors.Is(err, h1.ErrHeadTooLarge):
		return accesslog.TargetProtocolError
	}
	return accesslog.TargetConnectionClosed
}

// statsOf returns the writer through which a request's status and sizes
// can be read when it is over: the own server's as it is, net/http's
// wrapped (with the request body counted).
func statsOf(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	if _, _, ok := h1.ResponseStats(w); ok {
		return w
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &countingBody{rc: r.Body}
	}
	return &statsWriter{ResponseWriter: w}
}

// statsWriter notes the status and body size of a response written
// through net/http's server (the proxy's own server keeps them itself).
type statsWriter struct {
	http.ResponseWriter
	status  int
	written int64
}

func (w *statsWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statsWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}

func (w *statsWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *statsWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countingBody counts the request body bytes read.
type countingBody struct {
	rc io.ReadCloser
	n  int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n += int64(n)
	return n, err
}

func (b *countingBody) Close() error { return b.rc.Close() }
