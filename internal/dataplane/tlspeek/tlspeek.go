package tlspeek

import (
	"errors"
	"io"
	"net"
	"strings"
)

// DefaultMax bounds the bytes Peek reads when its max is not positive:
// 16 KiB holds any ClientHello a real client sends (Go 1.26's, with its
// X25519MLKEM768 key share, is under 2 KiB; browsers' are similar) while
// keeping what an unauthenticated peer can make the ingress buffer small.
const DefaultMax = 16 << 10

// Hello is what a ClientHello says that a listener needs to choose where
// the connection goes.
type Hello struct {
	// ServerName is the SNI host_name (RFC 6066 §3), lowercased; "" when
	// the client sent none. A name that is not a valid DNS host name (an
	// IP literal, a trailing dot, bytes outside letters, digits and '-')
	// makes Peek fail with ErrInvalidServerName instead.
	ServerName string
	// ALPN is the client's protocol list (RFC 7301), in its order; nil
	// when it sent none.
	ALPN []string
	// LegacyVersion is the hello's legacy_version (0x0303 for TLS 1.2 and
	// 1.3 clients).
	LegacyVersion uint16
	// SupportedVersions is the supported_versions extension (RFC 8446
	// §4.2.1) in the client's order, GREASE values included; nil when the
	// client sent none (a TLS 1.2 or older client).
	SupportedVersions []uint16
}

// Errors Peek returns (wrapped with the read error where there is one).
var (
	// ErrNotTLS: the first bytes are not a TLS handshake record.
	ErrNotTLS = errors.New("tlspeek: not a TLS handshake")
	// ErrNotClientHello: the first handshake message is not a ClientHello.
	ErrNotClientHello = errors.New("tlspeek: first handshake message is not a ClientHello")
	// ErrMalformed: the ClientHello does not parse.
	ErrMalformed = errors.New("tlspeek: malformed ClientHello")
	// ErrTooLarge: the ClientHello does not fit in max bytes.
	ErrTooLarge = errors.New("tlspeek: ClientHello too large")
	// ErrInvalidServerName: the SNI is not a DNS host name (RFC 6066 §3:
	// no IP literals, no trailing dot).
	ErrInvalidServerName = errors.New("tlspeek: invalid server name")
)

const (
	recordHeaderLen     = 5
	recordTypeHandshake = 22
	typeClientHello     = 1
	// maxRecordLen is the largest record payload crypto/tls accepts before
	// a version is negotiated (2^14 plaintext + 2048, RFC 5246 §6.2.3).
	maxRecordLen = 16384 + 2048

	extServerName        = 0
	extALPN              = 16
	extSupportedVersions = 43
)

// Peek reads from r until it holds a whole ClientHello (or fails), and
// returns what the hello says and raw: every byte it read, which the
// caller must send on (Replay). raw is returned on failure too. At most max
// bytes are read (DefaultMax when max <= 0); reads may return more than
// the hello, and that surplus is part of raw.
func Peek(r io.Reader, max int) (hello *Hello, raw []byte, err error) {
	if max <= 0 {
		max = DefaultMax
	}
	// Most hellos fit 2 KiB; a bigger one grows the buffer (up to max).
	buf := make([]byte, 0, min(max, 2048))
	var (
		off     int    // start of the next record header in buf
		msg     []byte // the handshake message gathered so far
		msgLen  = -1   // its length from its header, once known
		scratch []byte // msg's own storage once it spans records
	)
	for {
		// Gather one whole record.
		if err := fill(r, &buf, off+recordHeaderLen, max); err != nil {
			return nil, buf, err
		}
		h := buf[off : off+recordHeaderLen]
		// crypto/tls takes any version below 0x1000 before one is
		// negotiated (an SSLv2 hello, 0x80..., is refused).
		if h[0] != recordTypeHandshake || h[1] >= 0x10 {
			return nil, buf, ErrNotTLS
		}
		n := int(h[3])<<8 | int(h[4])
		if n == 0 || n > maxRecordLen {
			// RFC 8446 §5.1: no zero-length handshake fragments.
			return nil, buf, ErrMalformed
		}
		if err := fill(r, &buf, off+recordHeaderLen+n, max); err != nil {
			return nil, buf, err
		}
		frag := buf[off+recordHeaderLen : off+recordHeaderLen+n]
		off += recordHeaderLen + n
		if msg == nil && msgLen < 0 && len(frag) >= 4 {
			msgLen = int(frag[1])<<16 | int(frag[2])<<8 | int(frag[3])
			if frag[0] != typeClientHello {
				return nil, buf, ErrNotClientHello
			}
			if 4+msgLen <= len(frag) { // the usual case: one record
				hello, err := parseClientHello(frag[4 : 4+msgLen])
				return hello, buf, err
			}
		}
		// The message spans records: gather it in scratch (buf may move
		// as it grows).
		scratch = append(scratch, frag...)
		msg = scratch
		if msgLen < 0 && len(msg) >= 4 {
			msgLen = int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
			if msg[0] != typeClientHello {
				return nil, buf, ErrNotClientHello
			}
		}
		if msgLen >= 0 && len(msg) >= 4+msgLen {
			hello, err := parseClientHello(msg[4 : 4+msgLen])
			return hello, buf, err
		}
		if msgLen >= 0 && 4+msgLen > max {
			return nil, buf, ErrTooLarge
		}
	}
}

// fill reads into *buf until it holds at least want bytes, never beyond
// max bytes in all.
func fill(r io.Reader, buf *[]byte, want, max int) error {
	if want > max {
		return ErrTooLarge
	}
	b := *buf
	if want > cap(b) {
		nb := make([]byte, len(b), min(max, max2(want, 2*cap(b))))
		copy(nb, b)
		b = nb
	}
	for len(b) < want {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil && len(b) < want {
			*buf = b
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	*buf = b
	return nil
}

func max2(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// reader walks a byte string, as crypto/cryptobyte does.
type reader []byte

func (s *reader) u8() (byte, bool) {
	if len(*s) < 1 {
		return 0, false
	}
	v := (*s)[0]
	*s = (*s)[1:]
	return v, true
}

func (s *reader) u16() (uint16, bool) {
	if len(*s) < 2 {
		return 0, false
	}
	v := uint16((*s)[0])<<8 | uint16((*s)[1])
	*s = (*s)[2:]
	return v, true
}

func (s *reader) bytes(n int) (reader, bool) {
	if len(*s) < n {
		return nil, false
	}
	v := (*s)[:n]
	*s = (*s)[n:]
	return v, true
}

// vec8 and vec16 read a vector with a 1- or 2-byte length prefix.
func (s *reader) vec8() (reader, bool) {
	n, ok := s.u8()
	if !ok {
		return nil, false
	}
	return s.bytes(int(n))
}

func (s *reader) vec16() (reader, bool) {
	n, ok := s.u16()
	if !ok {
		return nil, false
	}
	return s.bytes(int(n))
}

// parseClientHello parses the body of a ClientHello message.
func parseClientHello(body []byte) (*Hello, error) {
	s := reader(body)
	h := &Hello{}
	var ok bool
	if h.LegacyVersion, ok = s.u16(); !ok {
		return nil, ErrMalformed
	}
	if _, ok = s.bytes(32); !ok { // random
		return nil, ErrMalformed
	}
	if _, ok = s.vec8(); !ok { // legacy_session_id
		return nil, ErrMalformed
	}
	if cs, ok := s.vec16(); !ok || len(cs)%2 != 0 {
		return nil, ErrMalformed
	}
	if _, ok = s.vec8(); !ok { // compression methods
		return nil, ErrMalformed
	}
	if len(s) == 0 {
		return h, nil // no extensions (RFC 5246 §7.4.1.2)
	}
	exts, ok := s.vec16()
	if !ok || len(s) != 0 {
		return nil, ErrMalformed
	}
	// Duplicates of any extension are refused (RFC 8446 §4.2), as
	// crypto/tls does; 64 bits cover the common low code points, a short
	// list the rest.
	var seenLow uint64
	var seenHigh []uint16
	for len(exts) > 0 {
		typ, ok := exts.u16()
		if !ok {
			return nil, ErrMalformed
		}
		data, ok := exts.vec16()
		if !ok {
			return nil, ErrMalformed
		}
		if typ < 64 {
			if seenLow&(1<<typ) != 0 {
				return nil, ErrMalformed
			}
			seenLow |= 1 << typ
		} else {
			for _, t := range seenHigh {
				if t == typ {
					return nil, ErrMalformed
				}
			}
			seenHigh = append(seenHigh, typ)
		}
		switch typ {
		case extServerName:
			name, err := parseSNI(data)
			if err != nil {
				return nil, err
			}
			h.ServerName = name
		case extALPN:
			list, ok := data.vec16()
			if !ok || len(list) == 0 || len(data) != 0 {
				return nil, ErrMalformed
			}
			for len(list) > 0 {
				p, ok := list.vec8()
				if !ok || len(p) == 0 {
					return nil, ErrMalformed
				}
				h.ALPN = append(h.ALPN, string(p))
			}
		case extSupportedVersions:
			list, ok := data.vec8()
			if !ok || len(list) == 0 || len(list)%2 != 0 || len(data) != 0 {
				return nil, ErrMalformed
			}
			h.SupportedVersions = make([]uint16, 0, len(list)/2)
			for len(list) > 0 {
				v, _ := list.u16()
				h.SupportedVersions = append(h.SupportedVersions, v)
			}
		}
	}
	if h.ServerName != "" {
		if !validHostName(h.ServerName) {
			return nil, ErrInvalidServerName
		}
	}
	return h, nil
}

// parseSNI reads a server_name extension (RFC 6066 §3): the host_name, or
// "" when the list names none. Names of other types are skipped; two
// host_names are refused (as crypto/tls does).
func parseSNI(data reader) (string, error) {
	list, ok := data.vec16()
	if !ok || len(list) == 0 || len(data) != 0 {
		return "", ErrMalformed
	}
	var name []byte
	for len(list) > 0 {
		typ, ok := list.u8()
		if !ok {
			return "", ErrMalformed
		}
		n, ok := list.vec16()
		if !ok || len(n) == 0 {
			return "", ErrMalformed
		}
		if typ != 0 {
			continue
		}
		if name != nil {
			return "", ErrMalformed
		}
		name = n
	}
	if name == nil {
		return "", nil
	}
	if len(name) > 253 || name[len(name)-1] == '.' {
		return "", ErrInvalidServerName
	}
	return lower(name), nil
}

// lower returns b as a string in ASCII lower case, in one allocation.
func lower(b []byte) string {
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			return lowerASCII(b) // rare: clients send names as typed
		}
	}
	return string(b)
}

// lowerASCII lowers A-Z only: a Unicode case mapping could turn a
// non-ASCII name into an ASCII one (U+212A KELVIN SIGN lowers to 'k'),
// and the name judged must be the name the target receives.
func lowerASCII(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// validHostName reports whether s (lowercased) is a DNS host name as
// RFC 6066 §3 wants it: dot-separated labels of 1–63 letters, digits and
// hyphens, no label starting or ending with a hyphen, no trailing dot, and
// not an IPv4 literal (a last label of digits only; an IPv6 literal has
// ':' and fails the character test).
func validHostName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	start := 0
	allDigits := true
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			l := s[start:i]
			if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
				return false
			}
			start = i + 1
			if i < len(s) {
				allDigits = true
			}
			continue
		}
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', c == '-':
			allDigits = false
		case '0' <= c && c <= '9':
		default:
			return false
		}
	}
	return !allDigits
}

// Replay returns a net.Conn that reads raw first and then from c; writes,
// deadlines and Close go to c. CloseWrite (a TCP half-close) goes to c
// when c has it. raw is not copied: the caller must not change it.
func Replay(c net.Conn, raw []byte) net.Conn {
	if len(raw) == 0 {
		return c
	}
	return &replayConn{Conn: c, raw: raw}
}

type replayConn struct {
	net.Conn
	raw []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.raw) > 0 {
		n := copy(p, c.raw)
		c.raw = c.raw[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite half-closes c when it can.
func (c *replayConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// NetConn returns the connection under the replay, as crypto/tls's
// Conn.NetConn does.
func (c *replayConn) NetConn() net.Conn { return c.Conn }
