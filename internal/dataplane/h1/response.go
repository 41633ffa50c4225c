package h1

// Reading a target's HTTP/1.x response head, the cheap way (parse.go):
// one string for the head, one slice of values; the http.Response, its
// header map and the body reader belong to the upstream connection and
// are reused by its next exchange (an exchange ends before the connection
// goes back to its pool, and the caller copies what it keeps).
//
// Framing follows RFC 9112 §6.3: no body for HEAD, 1xx, 204 and 304;
// chunked when an HTTP/1.1 Transfer-Encoding ends in chunked (a
// Content-Length beside it is dropped); delimited by the close for any other transfer coding or
// when neither header is there; else Content-Length, which must be one
// valid number (repeated identical values allowed).

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httputil"
	"strings"
)

const h1MaxResponseHead = 1 << 20 // as net/http.Transport's MaxResponseHeaderBytes default

// ErrBadResponse is a response head the client cannot use.
type ErrBadResponse string

func (e ErrBadResponse) Error() string { return "malformed response from the target: " + string(e) }

// readResponse reads the next response head on c into c.resp, with its body
// reader, for a request with method.
func (c *Conn) readResponse(method string) (*http.Response, error) {
	head, n, err := readHead(c.br, h1MaxResponseHead, c.scratch, nil)
	if err != nil {
		if errors.Is(err, ErrHeadTooLarge) {
			return nil, ErrBadResponse("head too large")
		}
		var he headError
		if errors.As(err, &he) {
			return nil, ErrBadResponse(string(he))
		}
		return nil, err
	}
	if n == 0 {
		c.scratch = head[:0]
	}
	line, off := splitLine(head)
	// "HTTP/1.1 200 OK": version, three-digit code, optional reason.
	if len(line) < 12 || string(line[:5]) != "HTTP/" || line[6] != '.' || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
		return nil, ErrBadResponse("status line")
	}
	var minor int
	switch string(line[5:8]) {
	case "1.1":
		minor = 1
	case "1.0":
	default:
		return nil, ErrBadResponse("unsupported version " + string(line[:8]))
	}
	code := 0
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return nil, ErrBadResponse("status code")
		}
		code = code*10 + int(d-'0')
	}
	if code < 100 {
		return nil, ErrBadResponse("status code")
	}
	fields, err := parseFields(head, off, c.fields[:0])
	c.fields = fields
	if err != nil {
		return nil, ErrBadResponse(err.Error())
	}
	s := string(head)
	if n > 0 {
		_, _ = c.br.Discard(n)
	}

	h := c.hdr
	if h == nil {
		h = make(http.Header, len(fields))
		c.hdr = h
	} else {
		clear(h)
	}
	fillHeader(h, s, fields)

	res := &c.resp
	*res = http.Response{
		Status: s[9:len(line)], StatusCode: code, Proto: s[:8], ProtoMajor: 1, ProtoMinor: minor,
		Header: h, ContentLength: -1,
	}
	conn := h["Connection"]
	res.Close = HasToken(conn, "close") || (minor == 0 && !HasToken(conn, "keep-alive"))

	noBody := method == http.MethodHead || code < 200 || code == http.StatusNoContent || code == http.StatusNotModified
	var cl int64 = -1
	if cv, ok := h["Content-Length"]; ok {
		cl = ParseLength(strings.TrimSpace(cv[0]))
		for _, v := range cv[1:] {
			if strings.TrimSpace(v) != cv[0] {
				cl = -1
			}
		}
		if cl < 0 {
			if _, te := h["Transfer-Encoding"]; !te && !noBody {
				return nil, ErrBadResponse("Content-Length")
			}
		}
	}
	c.body = h1Body{c: c}
	switch {
	case noBody:
		if method == http.MethodHead && cl >= 0 {
			res.ContentLength = cl // the length a GET would have had
		} else {
			res.ContentLength = 0
		}
	case h["Transfer-Encoding"] != nil:
		te := h["Transfer-Encoding"]
		last := strings.TrimSpace(te[len(te)-1])
		if i := strings.LastIndexByte(last, ','); i >= 0 {
			last = strings.TrimSpace(last[i+1:])
		}
		delete(h, "Content-Length")
		if strings.EqualFold(last, "chunked") && minor == 1 {
			delete(h, "Transfer-Encoding")
			res.TransferEncoding = teChunked
			if tv, ok := h["Trailer"]; ok {
				res.Trailer = DeclaredTrailers(tv)
				delete(h, "Trailer")
			}
			c.body.rc = &chunkedBody{cr: httputil.NewChunkedReader(c.br), br: c.br, res: res}
		} else {
			// Another coding, or an HTTP/1.0 message, where the field is
			// faulty framing (RFC 9112 §6.1): the body runs to the close.
			res.Close = true
			c.body.rc = c.br
		}
	case cl >= 0:
		res.ContentLength = cl
		if cl > 0 {
			c.lim = io.LimitedReader{R: c.br, N: cl}
			c.body.rc = &c.lim
		}
	default:
		res.Close = true // no length: the body runs to the close
		c.body.rc = c.br
	}
	delete(h, "Trailer") // announced trailers are in res.Trailer (chunked bodies only)
	res.Body = &c.body
	return res, nil
}

// chunkedBody decodes a chunked body and reads the trailer section after
// the last chunk into the response's Trailer.
type chunkedBody struct {
	cr  io.Reader
	br  *bufio.Reader
	res *http.Response
}

func (b *chunkedBody) Read(p []byte) (int, error) {
	n, err := b.cr.Read(p)
	if err == io.EOF {
		t, terr := readTrailerSection(b.br)
		if terr != nil {
			return n, terr
		}
		for k, vs := range t {
			if b.res.Trailer == nil {
				b.res.Trailer = http.Header{}
			}
			b.res.Trailer[k] = append(b.res.Trailer[k], vs...)
		}
	}
	return n, err
}
