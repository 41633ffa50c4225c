// Package route evaluates a listener's compiled rules against a request,
// picks a target group of a weighted forward action, and says whether the
// request may go to that group's protocol version (Compatible, the matrix
// of reference §6; IsGRPC tells a gRPC request).
//
// Everything here is pure and allocation-free: it reads the immutable
// snapshot and the request, and never does I/O.
package route

import (
	"net/http"
	"strings"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// Match returns the first rule of l, in evaluation order, whose match holds
// for r: custom rules by ascending priority, then the default rule, whose
// empty match always holds. It returns nil only when l has no rule that
// matches (a listener always has a default rule, so never in practice).
//
// Criteria (every present one must hold):
//   - method: exact and case-sensitive;
//   - path: exact or prefix on r.URL.Path, case-insensitive unless the
//     match is case-sensitive (the compiled value is then already lowercased);
//   - headers: each named header must be present with at least one value
//     that matches exactly, by prefix or by substring, with the same case rule.
func Match(l *snapshot.Listener, r *http.Request) *snapshot.Rule {
	if l == nil {
		return nil
	}
	for _, rule := range l.Rules {
		if matches(&rule.Match, r) {
			return rule
		}
	}
	return nil
}

func matches(m *snapshot.Match, r *http.Request) bool {
	if m.Method != "" && m.Method != r.Method {
		return false
	}
	if p := m.Path; p != nil {
		path := ""
		if r.URL != nil {
			path = r.URL.Path
		}
		if !matchPath(p, path) {
			return false
		}
	}
	for i := range m.Headers {
		if !matchHeader(&m.Headers[i], r) {
			return false
		}
	}
	return true
}

func matchPath(p *snapshot.PathMatch, path string) bool {
	if p.Exact {
		if len(path) != len(p.Value) {
			return false
		}
	} else {
		if len(path) < len(p.Value) {
			return false
		}
		path = path[:len(p.Value)]
	}
	if p.CaseSensitive {
		return path == p.Value
	}
	return equalFold(path, p.Value)
}

func matchHeader(h *snapshot.HeaderMatch, r *http.Request) bool {
	vals := r.Header[h.Name]
	if len(vals) == 0 && h.Name == "Host" && r.Host != "" {
		// net/http moves Host out of the header map (and HTTP/2 carries
		// it as :authority); match on what the client sent.
		return matchValue(h, r.Host)
	}
	for _, v := range vals {
		if matchValue(h, v) {
			return true
		}
	}
	return false
}

func matchValue(h *snapshot.HeaderMatch, v string) bool {
	want := h.Value
	switch h.Kind {
	case snapshot.HeaderExact:
		if len(v) != len(want) {
			return false
		}
	case snapshot.HeaderPrefix:
		if len(v) < len(want) {
			return false
		}
		v = v[:len(want)]
	case snapshot.HeaderContains:
		if h.CaseSensitive {
			return strings.Contains(v, want)
		}
		return containsFold(v, want)
	default:
		return false
	}
	if h.CaseSensitive {
		return v == want
	}
	return equalFold(v, want)
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

// equalFold reports whether s equals lowered, which is already lower case,
// ignoring case. ASCII is folded byte by byte; from the first non-ASCII byte
// on it falls back to Unicode simple folding (strings.EqualFold), which does
// not allocate either.
func equalFold(s, lowered string) bool {
	if len(s) != len(lowered) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || lowered[i] >= 0x80 {
			return strings.EqualFold(s[i:], lowered[i:])
		}
		if isUpper(c) {
			c += 'a' - 'A'
		}
		if c != lowered[i] {
			return false
		}
	}
	return true
}

// containsFold reports whether lowered (already lower case) occurs in s
// folded to ASCII lower case.
func containsFold(s, lowered string) bool {
	n := len(lowered)
	if n == 0 {
		return true
	}
	first := lowered[0]
	for i := 0; i+n <= len(s); i++ {
		c := s[i]
		if isUpper(c) {
			c += 'a' - 'A'
		}
		if c == first && equalFold(s[i+1:i+n], lowered[1:]) {
			return true
		}
	}
	return false
}

// PickGroup returns the target group of a forward action that takes the
// draw n, which must lie in [0, a.TotalWeight): the first entry whose
// Cumulative weight exceeds n. Entries of weight 0 are never picked. It
// returns nil for a fixed-response action, a zero total weight or an n out
// of range.
func PickGroup(a *snapshot.Action, n int) *snapshot.TargetGroup {
	if n < 0 || n >= a.TotalWeight {
		return nil
	}
	f := a.Forward
	if len(f) > 8 {
		// Binary search for the first Cumulative > n.
		lo, hi := 0, len(f)
		for lo < hi {
			mid := int(uint(lo+hi) >> 1)
			if f[mid].Cumulative > n {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		if lo < len(f) {
			return f[lo].TargetGroup
		}
		return nil
	}
	for i := range f {
		if f[i].Cumulative > n {
			return f[i].TargetGroup
		}
	}
	return nil
}
