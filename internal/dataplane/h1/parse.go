package h1

// HTTP/1.x message heads, parsed the cheap way: the whole head (start line
// and header fields) is validated and its field names canonicalized in
// place in the read buffer, then copied into one string; the start line's
// parts, names and values are substrings of it. A request or response head
// thus costs one string, one header map and one slice of values, whatever
// its number of fields.

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
)

// ErrHeadTooLarge is returned when a head exceeds the size limit.
var ErrHeadTooLarge = errors.New("message head too large")

// headError is a malformed head: the reason, for a 400 answer or a log.
type headError string

func (e headError) Error() string { return string(e) }

// field locates one header field in a head: name and value offsets.
type field struct{ n0, n1, v0, v1 int32 }

// headEnd returns the length of the head at the start of b (through the
// empty line that ends it, CRLF or bare LF), or -1 when b holds no complete
// head.
func headEnd(b []byte) int {
	i := 0
	for {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		if i < len(b) && b[i] == '\n' {
			return i + 1
		}
		if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			return i + 2
		}
		if i == len(b) || (i+1 == len(b) && b[i] == '\r') {
			return -1 // the next line has not arrived yet
		}
	}
}

// readHead reads a message head from br. The fast path (the head is in
// br's buffer already, the common case) returns a slice of that buffer,
// valid until the caller discards n bytes from br; otherwise the head is
// gathered into scratch (n is then 0: it was consumed). Leading empty lines
// are skipped (RFC 9112 §2.2). max bounds the head's size. wait, when not
// nil, is called once before the first read that has to wait for bytes
// not buffered yet (the server bounds the time a head may take there).
func readHead(br *bufio.Reader, max int, scratch []byte, wait func() error) (head []byte, n int, err error) {
	waited := false
	more := func(need int) error {
		if wait == nil || waited || br.Buffered() >= need {
			return nil
		}
		waited = true
		return wait()
	}
	// Skip a few empty lines before the start line.
	for range 4 {
		if err := more(1); err != nil {
			return nil, 0, err
		}
		b, err := br.Peek(1)
		if err != nil {
			return nil, 0, err
		}
		if b[0] != '\r' && b[0] != '\n' {
			break
		}
		if b[0] == '\r' {
			if err := more(2); err != nil {
				return nil, 0, err
			}
			if b, err = br.Peek(2); err != nil {
				return nil, 0, err
			}
			if b[1] != '\n' {
				return nil, 0, headError("bare CR before the request line")
			}
			_, _ = br.Discard(2)
		} else {
			_, _ = br.Discard(1)
		}
	}
	for {
		buf, _ := br.Peek(br.Buffered())
		if e := headEnd(buf); e >= 0 {
			if e > max {
				return nil, 0, ErrHeadTooLarge
			}
			return buf[:e], e, nil
		}
		if len(buf) > max {
			return nil, 0, ErrHeadTooLarge
		}
		if br.Buffered() == br.Size() {
			break // a head larger than the buffer: gather it below
		}
		// Wait for more bytes.
		if err := more(br.Buffered() + 1); err != nil {
			return nil, 0, err
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				break
			}
			return nil, 0, err
		}
	}
	// Slow path: line by line into scratch.
	if err := more(br.Size() + 1); err != nil {
		return nil, 0, err
	}
	head = scratch[:0]
	for {
		line, err := br.ReadSlice('\n')
		if len(head)+len(line) > max {
			return nil, 0, ErrHeadTooLarge
		}
		head = append(head, line...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		// A complete line: the head ends with an empty one.
		if e := headEnd(head); e >= 0 {
			return head[:e], 0, nil
		}
	}
}

// splitLine returns the first line of b without its line ending, and the
// offset of the next line.
func splitLine(b []byte) (line []byte, next int) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, len(b)
	}
	line = b[:i]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, i + 1
}

// parseFields validates the header fields of head from offset off and
// appends their locations to fields; field names are canonicalized in
// place. It rejects what RFC 9112 §5 tells a recipient to reject:
// whitespace between name and colon, obsolete line folding, control
// characters, names that are not tokens.
func parseFields(head []byte, off int, fields []field) ([]field, error) {
	for off < len(head) {
		line, next := splitLine(head[off:])
		if len(line) == 0 {
			break // the empty line: end of the head
		}
		if line[0] == ' ' || line[0] == '\t' {
			return fields, headError("obsolete line folding in the header")
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return fields, headError("malformed header line")
		}
		name := line[:colon]
		if !canonicalizeToken(name) {
			return fields, headError("invalid header field name")
		}
		v0, v1 := colon+1, len(line)
		for v0 < v1 && (line[v0] == ' ' || line[v0] == '\t') {
			v0++
		}
		for v1 > v0 && (line[v1-1] == ' ' || line[v1-1] == '\t') {
			v1--
		}
		for _, c := range line[v0:v1] {
			if (c < 0x20 && c != '\t') || c == 0x7f {
				return fields, headError("invalid character in a header value")
			}
		}
		fields = append(fields, field{int32(off), int32(off + colon), int32(off + v0), int32(off + v1)})
		off += next
	}
	return fields, nil
}

// canonicalizeToken checks that b is an RFC 9110 token and rewrites it in
// canonical header-key form (as http.CanonicalHeaderKey does).
func canonicalizeToken(b []byte) bool {
	upper := true
	for i, c := range b {
		if !isTokenByte(c) {
			return false
		}
		switch {
		case upper && 'a' <= c && c <= 'z':
			b[i] = c - ('a' - 'A')
		case !upper && 'A' <= c && c <= 'Z':
			b[i] = c + ('a' - 'A')
		}
		upper = c == '-'
	}
	return true
}

var tokenTable = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func isTokenByte(c byte) bool { return tokenTable[c] }

func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenTable[s[i]] {
			return false
		}
	}
	return true
}

// buildHeader makes the header map of a head copied into s.
func buildHeader(s string, fields []field) http.Header {
	// Sized for the fields only: up to 8 a map is one small allocation,
	// and the proxy writes its own fields toward HTTP/1.1 targets without
	// adding them to the map.
	h := make(http.Header, len(fields))
	fillHeader(h, s, fields)
	return h
}

// fillHeader adds the fields of a head copied into s to h; their values
// share one new slice.
func fillHeader(h http.Header, s string, fields []field) {
	vals := make([]string, len(fields))
	for i, f := range fields {
		name, value := s[f.n0:f.n1], s[f.v0:f.v1]
		if old, ok := h[name]; ok {
			h[name] = append(old, value)
			continue
		}
		vals[i] = value
		h[name] = vals[i : i+1 : i+1]
	}
}

// validFieldValue reports a field value without control bytes other than
// HTAB (RFC 9110 §5.5: no CR, LF or NUL, which could end the field or the
// head early). The writers check every value they send, whatever checked
// it before.
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// maxTrailerBytes bounds a trailer section (readTrailerSection).
const maxTrailerBytes = 64 << 10

// readTrailerSection reads the field lines after a last chunk, through the
// empty line; nil when there are none.
func readTrailerSection(br *bufio.Reader) (http.Header, error) {
	var section []byte
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			if err == bufio.ErrBufferFull {
				err = headError("trailer line too long")
			}
			return nil, err
		}
		if len(line) == 1 || (len(line) == 2 && line[0] == '\r') {
			break
		}
		if len(section)+len(line) > maxTrailerBytes {
			return nil, headError("trailer section too large")
		}
		section = append(section, line...)
	}
	if len(section) == 0 {
		return nil, nil
	}
	fields, err := parseFields(section, 0, nil)
	if err != nil {
		return nil, err
	}
	s := string(section)
	t := http.Header{}
	for _, f := range fields {
		k := s[f.n0:f.n1]
		switch k {
		case "Transfer-Encoding", "Trailer", "Content-Length", "Host":
			continue
		}
		t[k] = append(t[k], s[f.v0:f.v1])
	}
	return t, nil
}
