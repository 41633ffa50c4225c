package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
)

// GET /trellis/v1/access-logs/stream?resourceIdentifier=ID_OR_ARN follows a
// service's or a service network's access log records live (`trellis logs
// tail`, docs/access-logs.md#following-records-live). The answer is NDJSON
// over a chunked HTTP/1.1 response: one JSON object per line, flushed as
// records come. A record line is the record exactly as the subscriptions'
// files get it; Trellis's own lines carry a "trellisEvent" member, which
// no record has:
//
//	{"trellisEvent":"started","resourceArn":"…","resourceId":"…","resourceType":"SERVICE"}
//	{"trellisEvent":"dropped","dropped":12,"totalDropped":40}
//	{"trellisEvent":"end","reason":"ResourceDeleted","message":"…"}
//
// NDJSON rather than server-sent events: every line is what jq reads, and
// curl or any HTTP client follows it without an SSE parser. The records
// come from the data plane, handed in by app (SetAccessLogTap): the API
// does not import it.

// AccessLogTap opens live feeds of access log records.
type AccessLogTap interface {
	// Open starts following the records of the service or service network
	// with ARN resourceARN for account (already allowed to read them). It
	// returns a model error when a limit is reached (KindQuota).
	Open(account, resourceARN string) (AccessLogFeed, error)
}

// AccessLogFeed is one open feed; the stream closes it when it ends.
type AccessLogFeed interface {
	// Records delivers records, each a JSON object and its newline.
	Records() <-chan []byte
	// Done is closed when the feed has ended on its own (the server stops).
	Done() <-chan struct{}
	// Dropped is how many records the feed has lost so far because the
	// reader did not keep up.
	Dropped() uint64
	Close()
}

// Stream end reasons (the "reason" of the final "end" line).
const (
	StreamEndResourceDeleted = "ResourceDeleted"
	StreamEndServerShutdown  = "ServerShutdown"
)

// streamWriteTimeout bounds one write of the stream: a client that stops
// reading altogether loses its stream (and its place in the limits)
// rather than holding it forever; one that is only slow loses records.
const streamWriteTimeout = 30 * time.Second

// streamKeepAlive is the longest a stream stays silent: then it sends an
// empty line, which NDJSON readers skip, so that proxies on the way do not
// close an idle stream and a vanished client is found by a failed write.
const streamKeepAlive = 30 * time.Second

// SetAccessLogTap serves GET /trellis/v1/access-logs/stream with taps from
// t; recheck is how often an open stream checks that its resource still
// exists (default 1s), to end the stream when it is deleted. Without it
// the endpoint is absent. Call it before serving.
func (s *Server) SetAccessLogTap(t AccessLogTap, recheck time.Duration) {
	if recheck <= 0 {
		recheck = time.Second
	}
	s.native.Handle("GET "+NativePrefix+"access-logs/stream", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.streamAccessLogs(w, r, t, recheck)
	}))
}

func (s *Server) streamAccessLogs(w http.ResponseWriter, r *http.Request, t AccessLogTap, recheck time.Duration) {
	ctx := r.Context()
	fail := func(err error) { writeError(w, toWireError(ctx, s.log, err)) }
	ident := r.URL.Query().Get("resourceIdentifier")
	if ident == "" {
		fail(model.Invalid("resourceIdentifier", "resourceIdentifier is required: the ID or ARN of a service or service network"))
		return
	}
	res, err := s.svc.ResolveLogResource(ctx, ident)
	if err != nil {
		fail(err)
		return
	}
	c, _ := service.CallerFrom(ctx)
	feed, err := t.Open(c.Account, res.ARN)
	if err != nil {
		fail(err)
		return
	}
	defer feed.Close()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "application/x-ndjson")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	lastWrite := time.Now()
	send := func(p []byte) bool {
		lastWrite = time.Now()
		_ = rc.SetWriteDeadline(lastWrite.Add(streamWriteTimeout))
		_, err := w.Write(p)
		return err == nil
	}
	event := func(v map[string]any) bool {
		b, _ := json.Marshal(v)
		return send(append(b, '\n'))
	}
	flush := func() bool { return rc.Flush() == nil }
	if !event(map[string]any{"trellisEvent": "started", "resourceArn": res.ARN, "resourceId": res.ID,
		"resourceType": res.Type}) || !flush() {
		return
	}
	var reported uint64
	dropped := func() bool {
		d := feed.Dropped()
		if d == reported {
			return true
		}
		ok := event(map[string]any{"trellisEvent": "dropped", "dropped": d - reported, "totalDropped": d})
		reported = d
		return ok
	}
	end := func(reason, msg string) {
		if dropped() {
			_ = event(map[string]any{"trellisEvent": "end", "reason": reason, "message": msg})
			_ = flush()
		}
	}
	tick := time.NewTicker(recheck)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return // the client went away
		case <-feed.Done():
			end(StreamEndServerShutdown, "the server is stopping")
			return
		case line := <-feed.Records():
			if !send(line) {
				return
			}
			// Whatever else is queued goes out in the same flush.
			for more := true; more; {
				select {
				case line := <-feed.Records():
					if !send(line) {
						return
					}
				default:
					more = false
				}
			}
			if !dropped() || !flush() {
				return
			}
		case <-tick.C:
			if gone, err := s.logResourceGone(ctx, res.ARN); err != nil {
				return
			} else if gone {
				end(StreamEndResourceDeleted, "the "+resourceTypeWords(res.Type)+" "+res.ID+" was deleted")
				return
			}
			if time.Since(lastWrite) >= streamKeepAlive && !send([]byte{'\n'}) {
				return
			}
			if !dropped() || !flush() {
				return
			}
		}
	}
}

// logResourceGone reports whether the followed resource no longer exists
// (for the caller); err only when ctx ended.
func (s *Server) logResourceGone(ctx context.Context, resourceARN string) (bool, error) {
	_, err := s.svc.ResolveLogResource(ctx, resourceARN)
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	var me *model.Error
	if errors.As(err, &me) && me.Kind == model.KindNotFound {
		return true, nil
	}
	if err != nil {
		s.log.Warn("access log stream: checking its resource", "resource", resourceARN, "err", err)
	}
	return false, nil
}

func resourceTypeWords(t string) string {
	if t == model.TypeServiceNetwork {
		return "service network"
	}
	return "service"
}
