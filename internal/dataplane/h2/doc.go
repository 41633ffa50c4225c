// Package h2 is the server side of HTTP/2 (RFC 9113) on the wire, built for
// a proxy: the connection loop, flow control, the stream state machine and
// the flood defences, serving every request to an http.Handler with the
// contract of net/http's HTTP/2 server (a *http.Request with Proto
// "HTTP/2.0", a streamed body with trailers, a ResponseWriter with Flusher
// and trailers the net/http way).
//
// It is built for speed where net/http's server spends its time (a
// frame-writer goroutine and a flush per stream, a fresh goroutine per
// stream growing its stack into the proxy's, channel hand-offs):
//
//   - one reader goroutine per connection reads and dispatches every frame
//     (golang.org/x/net/http2's Framer with ReadMetaHeaders, so CONTINUATION
//     is assembled and bounded by the header list limit);
//   - handlers run on worker goroutines that loop taking streams (a pool
//     shared by every Server of the process: up to 256 wait, the warmest
//     is taken first, one waiting a minute ends), so their stacks are warm;
//   - a handler encodes its HEADERS, DATA and trailers itself, under the
//     connection's lock, into the connection's one output buffer (the hpack
//     encoder is the connection's, used under that lock, so header blocks go
//     out in the order they were encoded); one writer goroutine per
//     connection writes whatever accumulated in one write, so the answers of
//     the streams that finish together leave in one syscall;
//   - a small answer is HEADERS and DATA (END_STREAM on the DATA, or on the
//     HEADERS when the body is empty and there are no trailers) in the same
//     buffer, with no flush of its own.
//
// What a handler needs of the connection it gets through h1's declared
// seams (h1.ConnInfoOf, h1.OnGone, h1.ResponseStats, h1.BodyBytesRead),
// which this package's request context, response writer and body
// implement: h1 knows nothing of HTTP/2, h2 knows h1's interfaces.
//
// It knows nothing of Lattice, snapshots or VPCs: it must not import any
// package of this module but h1 (internal/archtest).
package h2
