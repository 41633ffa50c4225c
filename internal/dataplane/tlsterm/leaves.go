package tlsterm

import (
	"crypto/tls"
	"time"

	"github.com/trellis-net/trellis/internal/ca"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// leafEntry is the installation CA's certificate for one name. cert, ca,
// renewAt and err are written once, before ready is closed, and only read
// after; renewing is guarded by Terminator.mu.
type leafEntry struct {
	ready    chan struct{}
	cert     *tls.Certificate
	ca       *ca.CA
	renewAt  time.Time
	err      error
	renewing bool
}

// renewFraction of a leaf's lifetime passes before it is reissued: with
// ca.LeafValidity (395 days) about 132 days before it expires, so a
// renewal that keeps failing is logged for months before any client sees
// an expired certificate.
const renewFraction = 2.0 / 3

// leaf returns the installation CA's certificate for name, issuing it when
// there is none, it was issued by another CA, or it expired. Concurrent
// handshakes for one name share one issuance; the cache lock is never held
// while issuing, so other names are not held up. A certificate past its
// renewal time is still served while a new one is issued in the
// background.
func (t *Terminator) leaf(hello *tls.ClientHelloInfo, s *snapshot.Snapshot, name string, now time.Time) (*tls.Certificate, error) {
	authority := t.ca.Load()
	if authority == nil {
		return nil, ErrNoCA
	}
	t.mu.Lock()
	if s != t.pruned {
		t.prune(s)
	}
	if e := t.leaves[name]; e != nil {
		select {
		case <-e.ready:
			if e.err == nil && e.ca == authority && now.Before(e.cert.Leaf.NotAfter) {
				if !now.Before(e.renewAt) && !e.renewing {
					e.renewing = true
					go t.renew(name, e, authority)
				}
				t.mu.Unlock()
				return e.cert, nil
			}
			// Failed, issued by another CA, or expired: issue anew.
		default:
			t.mu.Unlock()
			var done <-chan struct{} // nil (never ready) outside a handshake
			ctx := hello.Context()
			if ctx != nil {
				done = ctx.Done()
			}
			select {
			case <-e.ready:
				return e.cert, e.err
			case <-done:
				return nil, ctx.Err()
			}
		}
	}
	e := &leafEntry{ready: make(chan struct{})}
	t.leaves[name] = e
	t.mu.Unlock()
	issue(e, authority, name, now)
	if e.err != nil {
		// Not cached: the next handshake tries again.
		t.mu.Lock()
		if t.leaves[name] == e {
			delete(t.leaves, name)
		}
		t.mu.Unlock()
	}
	return e.cert, e.err
}

// issue fills e with a new leaf for name and marks it ready.
func issue(e *leafEntry, authority *ca.CA, name string, now time.Time) {
	defer close(e.ready)
	e.ca = authority
	l, err := authority.Issue(name, nil, now)
	if err != nil {
		e.err = err
		return
	}
	// The leaf alone: a client that trusts the installation CA has it, and
	// the handshake stays small.
	pair, err := tls.X509KeyPair(l.CertPEM, l.KeyPEM)
	if err != nil {
		e.err = err
		return
	}
	e.cert = &pair
	e.renewAt = l.NotBefore.Add(time.Duration(float64(l.NotAfter.Sub(l.NotBefore)) * renewFraction))
}

// renew issues a successor of old in the background and swaps it in; on
// failure old stays (and is renewed again at a later handshake).
func (t *Terminator) renew(name string, old *leafEntry, authority *ca.CA) {
	e := &leafEntry{ready: make(chan struct{})}
	issue(e, authority, name, t.now())
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.leaves[name] != old {
		return // replaced or pruned meanwhile
	}
	if e.err != nil {
		old.renewing = false
		t.log.Warn("HTTPS certificate renewal failed; the current one is served until it expires",
			"serverName", name, "notAfter", old.cert.Leaf.NotAfter, "error", e.err)
		return
	}
	t.leaves[name] = e
}

// prune drops the leaves of names no service has in s (services come and
// go: the cache holds at most one leaf per name of the snapshot). Called
// with t.mu held, once per snapshot.
func (t *Terminator) prune(s *snapshot.Snapshot) {
	t.pruned = s
	if len(t.leaves) == 0 || s == nil {
		return
	}
	live := make(map[string]bool, s.ServiceNames.Len())
	for _, svc := range s.ServiceNames.All() {
		live[svc.DNSName] = true
		live[svc.CustomDomain] = true
	}
	for name := range t.leaves {
		if !live[name] {
			delete(t.leaves, name)
		}
	}
}

// cachedLeaves reports how many leaves are cached (tests).
func (t *Terminator) cachedLeaves() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.leaves)
}
