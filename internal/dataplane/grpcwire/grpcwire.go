package grpcwire

import (
	"github.com/trellis-net/trellis/internal/hexdigit"
	"net/http"
)

// Code is a gRPC status code (grpc/doc/statuscodes.md).
type Code uint32

// The gRPC status codes.
const (
	OK                 Code = 0
	Canceled           Code = 1
	Unknown            Code = 2
	InvalidArgument    Code = 3
	DeadlineExceeded   Code = 4
	NotFound           Code = 5
	AlreadyExists      Code = 6
	PermissionDenied   Code = 7
	ResourceExhausted  Code = 8
	FailedPrecondition Code = 9
	Aborted            Code = 10
	OutOfRange         Code = 11
	Unimplemented      Code = 12
	Internal           Code = 13
	Unavailable        Code = 14
	DataLoss           Code = 15
	Unauthenticated    Code = 16
)

// codeText holds the decimal text of each code, so that writing one does
// not format a number.
var codeText = [...]string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15", "16"}

// String returns the code's decimal value, as grpc-status carries it.
func (c Code) String() string {
	if int(c) < len(codeText) {
		return codeText[c]
	}
	return "2" // Unknown: a code out of range is UNKNOWN to clients
}

// FromHTTPStatus maps an HTTP status to the gRPC code a gRPC client derives
// from it when a response has no grpc-status
// (grpc/doc/http-grpc-status-mapping.md):
//
//	400 → INTERNAL          401 → UNAUTHENTICATED   403 → PERMISSION_DENIED
//	404 → UNIMPLEMENTED     429 → UNAVAILABLE       502, 503, 504 → UNAVAILABLE
//	any other → UNKNOWN
//
// Answering a gRPC client with this code instead of the bare HTTP status
// changes nothing in what its library reports as the code; it adds the
// reason (the table is followed to the letter for that reason: 504 is
// UNAVAILABLE, not DEADLINE_EXCEEDED, as a client whose own deadline passed
// reports DEADLINE_EXCEEDED by itself). 2xx statuses are not errors and
// map to UNKNOWN too: a caller must not use them here.
func FromHTTPStatus(status int) Code {
	switch status {
	case http.StatusBadRequest:
		return Internal
	case http.StatusUnauthorized:
		return Unauthenticated
	case http.StatusForbidden:
		return PermissionDenied
	case http.StatusNotFound:
		return Unimplemented
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return Unavailable
	}
	return Unknown
}

// WriteError answers a gRPC request with a trailers-only response: HTTP
// status 200 and a single header block holding content-type
// application/grpc, grpc-status and grpc-message, which ends the stream
// (grpc/doc/PROTOCOL-HTTP2.md, "Trailers-Only"). Headers already set on w
// (x-amzn-requestid) are kept; a Content-Length is dropped. code OK is
// written as UNKNOWN: this is for errors only. msg is percent-encoded
// (AppendMessage); it should be UTF-8, and bytes that are not are encoded
// too, which a client decodes back to the same bytes.
//
// Over HTTP/2 net/http sends the header block with END_STREAM when the
// handler returns without writing a body; the caller must not write one.
func WriteError(w http.ResponseWriter, code Code, msg string) {
	if code == OK {
		code = Unknown
	}
	h := w.Header()
	h.Del("Content-Length")
	h["Content-Type"] = contentType
	h["Grpc-Status"] = []string{code.String()}
	if msg != "" {
		h["Grpc-Message"] = []string{encodeMessage(msg)}
	} else {
		delete(h, "Grpc-Message")
	}
	w.WriteHeader(http.StatusOK)
}

// WriteHTTPError is WriteError with the code FromHTTPStatus gives for
// status: the gRPC form of a refusal the proxy would send a plain client
// as status with msg as its body.
func WriteHTTPError(w http.ResponseWriter, status int, msg string) {
	WriteError(w, FromHTTPStatus(status), msg)
}

var contentType = []string{"application/grpc"}

// encodeMessage returns msg percent-encoded; msg itself when nothing needs
// encoding (no allocation).
func encodeMessage(msg string) string {
	for i := 0; i < len(msg); i++ {
		if !unreserved(msg[i]) {
			return string(AppendMessage(make([]byte, 0, len(msg)+16), msg))
		}
	}
	return msg
}

// unreserved reports whether c goes into grpc-message as itself: space and
// the visible ASCII characters except '%' (Percent-Byte-Unencoded in
// PROTOCOL-HTTP2.md).
func unreserved(c byte) bool {
	return c >= 0x20 && c <= 0x7e && c != '%'
}

const upperHex = "0123456789ABCDEF"

// AppendMessage appends msg percent-encoded for grpc-message to dst: every
// byte outside space..'~', and '%', becomes %XX (upper-case hex), so that
// the header value is plain ASCII whatever msg holds (control characters,
// CR/LF and UTF-8 included).
func AppendMessage(dst []byte, msg string) []byte {
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if unreserved(c) {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', upperHex[c>>4], upperHex[c&0xf])
	}
	return dst
}

// DecodeMessage undoes AppendMessage. Like gRPC clients, it is lenient: a
// '%' not followed by two hex digits is kept as it is.
func DecodeMessage(v string) string {
	i := 0
	for i < len(v) && v[i] != '%' {
		i++
	}
	if i == len(v) {
		return v
	}
	b := make([]byte, 0, len(v))
	b = append(b, v[:i]...)
	for ; i < len(v); i++ {
		c := v[i]
		if c == '%' && i+2 < len(v) {
			hi, ok1 := hexdigit.Value(v[i+1])
			lo, ok2 := hexdigit.Value(v[i+2])
			if ok1 && ok2 {
				b = append(b, hi<<4|lo)
				i += 2
				continue
			}
		}
		b = append(b, c)
	}
	return string(b)
}
