package sigv4

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"github.com/trellis-net/trellis/internal/hexdigit"
	"hash"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// maxQueryParams mirrors net/url's default limit (ParseQuery returns nothing
// past it, so such a query cannot be what the application sees).
const maxQueryParams = 10000

const upperHex = "0123456789ABCDEF"

// unreserved marks RFC 3986's unreserved characters, the only ones SigV4
// leaves unescaped.
var unreserved = func() (t [256]bool) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
		t[c+'a'-'A'] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	t['-'], t['.'], t['_'], t['~'] = true, true, true, true
	return t
}()

// qpair locates one encoded query parameter inside scratch.qbuf: the key is
// qbuf[k0:k1] and the value qbuf[k1:v1].
type qpair struct{ k0, k1, v1 int }

// scratch holds the per-request buffers; it is pooled.
type scratch struct {
	canon []byte // canonical request
	sts   []byte // string to sign
	qbuf  []byte // encoded query keys and values
	pairs []qpair
	mac   []byte               // HMAC work area, 64 bytes
	sig   []byte               // hex signature
	der   [maxECDSASigLen]byte // SigV4A: the decoded signature
	h     hash.Hash
	hu    encoding.BinaryUnmarshaler
}

var scratchPool = sync.Pool{New: func() any {
	h := sha256.New()
	return &scratch{
		canon: make([]byte, 0, 1024),
		sts:   make([]byte, 0, 256),
		qbuf:  make([]byte, 0, 256),
		pairs: make([]qpair, 0, 16),
		mac:   make([]byte, 0, 64),
		sig:   make([]byte, 0, 64),
		h:     h,
		hu:    h.(encoding.BinaryUnmarshaler),
	}
}}

// maxPooled keeps one huge request from pinning large buffers in the pool.
const maxPooled = 64 << 10

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(s *scratch) {
	if cap(s.canon) > maxPooled || cap(s.qbuf) > maxPooled || cap(s.pairs) > maxPooled/24 {
		return
	}
	scratchPool.Put(s)
}

// requestPath returns the request's path exactly as the client sent it
// (still percent-encoded). The server's RequestURI is preferred because it is
// byte-for-byte what was on the wire; a request built in-process (no
// RequestURI) falls back to URL.Opaque or URL.EscapedPath, which is what a
// client would send and what the AWS SDK signs.
func requestPath(r *http.Request) string {
	p := ""
	if u := r.RequestURI; u != "" {
		if u[0] != '/' {
			// absolute-form: scheme://authority/path?query
			if i := strings.Index(u, "://"); i >= 0 {
				u = u[i+3:]
				if j := strings.IndexAny(u, "/?"); j >= 0 {
					u = u[j:]
				} else {
					u = ""
				}
			}
		}
		if i := strings.IndexByte(u, '?'); i >= 0 {
			u = u[:i]
		}
		p = u
	} else if r.URL != nil {
		if o := r.URL.Opaque; o != "" {
			// "//host/path", as the AWS SDK documents for pre-escaped paths.
			if i := strings.IndexByte(o, '?'); i >= 0 {
				o = o[:i]
			}
			o = strings.TrimPrefix(o, "//")
			if i := strings.IndexByte(o, '/'); i >= 0 {
				p = o[i:]
			}
		} else {
			p = r.URL.EscapedPath()
		}
	}
	if p == "" {
		return "/"
	}
	return p
}

// appendCanonicalURI URI-encodes the as-sent path once more, as the AWS SDKs
// do for every service but S3: each byte outside the unreserved set and '/'
// becomes %XX, so an escaped "%3A" in the path appears as "%253A".
func appendCanonicalURI(dst []byte, path string) []byte {
	for i := 0; i < len(path); i++ {
		c := path[i]
		if unreserved[c] || c == '/' {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return dst
}

// normalizePath removes empty, "." and ".." segments the way RFC 3986 and
// the AWS SigV4 test suite ("get-slashes", "get-relative", ...) expect; a
// trailing slash is kept when anything is left.
func normalizePath(p string) string {
	segs := make([]string, 0, 8)
	for s := range strings.SplitSeq(p, "/") {
		switch s {
		case "", ".":
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, s)
		}
	}
	out := "/" + strings.Join(segs, "/")
	if len(segs) > 0 && strings.HasSuffix(p, "/") {
		out += "/"
	}
	return out
}

// appendQueryComponent decodes one raw query key or value (percent escapes,
// '+' as space, as net/url does) and appends its SigV4 encoding: every byte
// outside the unreserved set as %XX with uppercase hex. ok is false for an
// invalid escape, which net/url.ParseQuery would drop.
func appendQueryComponent(dst []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '%':
			if i+2 >= len(s) {
				return dst, false
			}
			hi, ok1 := hexdigit.Value(s[i+1])
			lo, ok2 := hexdigit.Value(s[i+2])
			if !ok1 || !ok2 {
				return dst, false
			}
			c = hi<<4 | lo
			i += 2
		case '+':
			c = ' '
		}
		if unreserved[c] {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return dst, true
}

type queryError struct{}

func (queryError) Error() string { return "sigv4: query has too many parameters" }

// appendCanonicalQuery appends the canonical query string of the raw query:
// parameters as net/url.ParseQuery sees them (split on '&', those containing
// ';' or a bad escape dropped), each key and value SigV4-encoded, sorted by
// encoded key then encoded value, joined as k=v&k=v. With skipSignature the
// X-Amz-Signature parameter of the presigned form is left out.
func (s *scratch) appendCanonicalQuery(dst []byte, q string, skipSignature bool) ([]byte, error) {
	if q == "" {
		return dst, nil
	}
	if strings.Count(q, "&")+1 > maxQueryParams {
		return dst, queryError{}
	}
	buf := s.qbuf[:0]
	pairs := s.pairs[:0]
	for q != "" {
		var seg string
		seg, q, _ = strings.Cut(q, "&")
		if seg == "" || strings.IndexByte(seg, ';') >= 0 {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		k0 := len(buf)
		var ok bool
		if buf, ok = appendQueryComponent(buf, k); !ok {
			buf = buf[:k0]
			continue
		}
		k1 := len(buf)
		if buf, ok = appendQueryComponent(buf, v); !ok {
			buf = buf[:k0]
			continue
		}
		if skipSignature && string(buf[k0:k1]) == qSignature {
			buf = buf[:k0]
			continue
		}
		pairs = append(pairs, qpair{k0, k1, len(buf)})
	}
	if len(pairs) > 1 {
		slices.SortFunc(pairs, func(a, b qpair) int {
			if c := bytes.Compare(buf[a.k0:a.k1], buf[b.k0:b.k1]); c != 0 {
				return c
			}
			return bytes.Compare(buf[a.k1:a.v1], buf[b.k1:b.v1])
		})
	}
	for i, p := range pairs {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, buf[p.k0:p.k1]...)
		dst = append(dst, '=')
		dst = append(dst, buf[p.k1:p.v1]...)
	}
	s.qbuf, s.pairs = buf, pairs
	return dst, nil
}

// appendHeaderValue appends v trimmed of surrounding whitespace with every
// run of inner spaces collapsed to one, as SigV4 canonical headers require.
func appendHeaderValue(dst []byte, v string) []byte {
	v = strings.TrimSpace(v)
	// Most values have no space at all: IndexByte rules that out faster
	// than a search for two spaces.
	if i := strings.IndexByte(v, ' '); i < 0 || !strings.Contains(v[i:], "  ") {
		return append(dst, v...)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' && i > 0 && v[i-1] == ' ' {
			continue
		}
		dst = append(dst, c)
	}
	return dst
}

// headerValues returns the values of the header whose lowercase name is
// name. http.Header keys are canonical on a server; a request built
// in-process may use other spellings, which the fallback scan finds.
func headerValues(h http.Header, name string) []string {
	if k := commonHeaderKey(name); k != "" {
		if vs, ok := h[k]; ok {
			return vs
		}
	} else if len(name) <= 64 {
		var kb [64]byte
		k := kb[:len(name)]
		copy(k, name)
		canonicalKey(k)
		if vs, ok := h[string(k)]; ok {
			return vs
		}
	} else if vs, ok := h[textproto.CanonicalMIMEHeaderKey(name)]; ok {
		return vs
	}
	for k, vs := range h {
		if strings.EqualFold(k, name) {
			return vs
		}
	}
	return nil
}

// commonHeaderKey returns the canonical http.Header key of headers that
// signers commonly sign, or "" for others.
func commonHeaderKey(name string) string {
	switch name {
	case "content-type":
		return "Content-Type"
	case "content-length":
		return "Content-Length"
	case "x-amz-date":
		return "X-Amz-Date"
	case "x-amz-content-sha256":
		return "X-Amz-Content-Sha256"
	case "x-amz-security-token":
		return "X-Amz-Security-Token"
	case "x-amz-region-set":
		return "X-Amz-Region-Set"
	case "x-amz-target":
		return "X-Amz-Target"
	case "x-amz-user-agent":
		return "X-Amz-User-Agent"
	case "amz-sdk-invocation-id":
		return "Amz-Sdk-Invocation-Id"
	case "amz-sdk-request":
		return "Amz-Sdk-Request"
	case "accept":
		return "Accept"
	case "content-md5":
		return "Content-Md5"
	case "date":
		return "Date"
	}
	return ""
}

// canonicalKey turns a lowercase header name into net/textproto's canonical
// form in place ("x-amz-date" -> "X-Amz-Date"). Names textproto would leave
// alone (with bytes outside a token) are left alone.
func canonicalKey(k []byte) {
	for _, c := range k {
		if !isLowerTokenByte(c) {
			return
		}
	}
	upper := true
	for i, c := range k {
		if upper && 'a' <= c && c <= 'z' {
			k[i] = c - ('a' - 'A')
		}
		upper = c == '-'
	}
}

// knownHeaders holds header values the parser already looked up, so that
// the canonical request does not look them up again. A value is used only
// if its have flag is set, which means the canonical key was present in
// r.Header (exactly when headerValues would return it).
type knownHeaders struct {
	amzDate, contentSHA256         []string
	haveAmzDate, haveContentSHA256 bool
}

// appendCanonicalHeaders appends "name:value\n" for each name of the
// SignedHeaders list (already validated: lowercase, sorted, distinct).
// known may be nil.
func appendCanonicalHeaders(dst []byte, r *http.Request, signedHeaders string, known *knownHeaders) []byte {
	for start := 0; start < len(signedHeaders); {
		// The names are short: a byte loop beats strings.Cut here.
		end := start
		for end < len(signedHeaders) && signedHeaders[end] != ';' {
			end++
		}
		name := signedHeaders[start:end]
		start = end + 1
		dst = append(dst, name...)
		dst = append(dst, ':')
		switch {
		case known != nil && known.haveAmzDate && name == "x-amz-date":
			dst = appendHeaderValues(dst, known.amzDate)
		case known != nil && known.haveContentSHA256 && name == "x-amz-content-sha256":
			dst = appendHeaderValues(dst, known.contentSHA256)
		default:
			dst = appendHeader(dst, r, name)
		}
		dst = append(dst, '\n')
	}
	return dst
}

func appendHeader(dst []byte, r *http.Request, name string) []byte {
	switch name {
	case "host":
		host := r.Host
		if host == "" && r.URL != nil {
			host = r.URL.Host
		}
		return appendHeaderValue(dst, host)
	case "content-length":
		// A server keeps Content-Length in the header; a request built
		// in-process (and signed by the SDK) carries it in ContentLength.
		if vs := headerValues(r.Header, name); vs != nil {
			return appendHeaderValues(dst, vs)
		}
		if r.ContentLength > 0 {
			return strconv.AppendInt(dst, r.ContentLength, 10)
		}
		return dst
	case "transfer-encoding":
		// net/http moves this header to Request.TransferEncoding.
		if vs := headerValues(r.Header, name); vs != nil {
			return appendHeaderValues(dst, vs)
		}
		return appendHeaderValues(dst, r.TransferEncoding)
	}
	return appendHeaderValues(dst, headerValues(r.Header, name))
}

func appendHeaderValues(dst []byte, vs []string) []byte {
	for i, v := range vs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendHeaderValue(dst, v)
	}
	return dst
}

// buildCanonicalRequest writes the canonical request into s.canon:
//
//	METHOD \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n PayloadHash
func (s *scratch) buildCanonicalRequest(r *http.Request, path string, presigned bool, signedHeaders, payloadHash string) error {
	return s.buildCanonical(r, path, presigned, signedHeaders, payloadHash, nil)
}

// buildCanonical is buildCanonicalRequest reusing the header values in known
// (which may be nil).
func (s *scratch) buildCanonical(r *http.Request, path string, presigned bool, signedHeaders, payloadHash string, known *knownHeaders) error {
	b := s.canon[:0]
	if r.Method == "" {
		b = append(b, "GET"...)
	} else {
		b = append(b, r.Method...)
	}
	b = append(b, '\n')
	b = appendCanonicalURI(b, path)
	b = append(b, '\n')
	q := ""
	if r.URL != nil {
		q = r.URL.RawQuery
	}
	if q != "" {
		var err error
		if b, err = s.appendCanonicalQuery(b, q, presigned); err != nil {
			s.canon = b
			return err
		}
	}
	b = append(b, '\n')
	b = appendCanonicalHeaders(b, r, signedHeaders, known)
	b = append(b, '\n')
	b = append(b, signedHeaders...)
	b = append(b, '\n')
	b = append(b, payloadHash...)
	s.canon = b
	return nil
}
