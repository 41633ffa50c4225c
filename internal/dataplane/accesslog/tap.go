package accesslog

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Taps are live feeds of a service's or a service network's access log
// records, for `trellis logs tail` (the API's stream endpoint reads them).
// A tap counts as a reason to build a request's record, as a subscription
// does, so a tapped resource is followed whether or not it has
// subscriptions.
//
// The request path asks Tapped for every request: one atomic load while
// nobody taps anything, one more and two map lookups otherwise; no lock,
// no allocation. Publishing copies the encoded line into each tap's
// bounded queue without blocking: a reader that does not keep up loses
// records (counted in Tap.Dropped), it never slows requests down.
type Taps struct {
	limits TapLimits
	// open counts the open taps: zero answers Tapped at once.
	open atomic.Int32
	// byARN maps a resource ARN to its taps, copy-on-write under mu.
	byARN atomic.Pointer[map[string][]*Tap]

	mu      sync.Mutex
	account map[string]int // open taps by owner account
	closed  bool
}

// TapLimits bound the taps; zero fields take the defaults.
type TapLimits struct {
	// PerAccount is how many taps one account may hold open at once
	// (default 5); Total how many all accounts together (default 50).
	PerAccount, Total int
	// Queue is how many records a tap holds for its reader before it
	// drops the next ones (default 1024).
	Queue int
}

// The default limits: a handful of operators tailing per account; each
// open tap costs its queue (at most Queue lines) and a reader.
const (
	DefaultTapsPerAccount = 5
	DefaultTapsTotal      = 50
	DefaultTapQueue       = 1024
)

// ErrTapLimit is wrapped by TapLimitError.
var ErrTapLimit = errors.New("access log tap limit reached")

// ErrTapsClosed is returned by Open after Close.
var ErrTapsClosed = errors.New("access log taps are closed")

// TapLimitError reports an Open refused by a limit.
type TapLimitError struct {
	// PerAccount is true when the account's limit was reached, false for
	// the installation's total.
	PerAccount bool
	Limit      int
}

func (e *TapLimitError) Error() string {
	if e.PerAccount {
		return fmt.Sprintf("an account may follow at most %d access log streams at once", e.Limit)
	}
	return fmt.Sprintf("at most %d access log streams may be followed at once", e.Limit)
}

func (e *TapLimitError) Unwrap() error { return ErrTapLimit }

// NewTaps returns an empty set of taps.
func NewTaps(l TapLimits) *Taps {
	if l.PerAccount <= 0 {
		l.PerAccount = DefaultTapsPerAccount
	}
	if l.Total <= 0 {
		l.Total = DefaultTapsTotal
	}
	if l.Queue <= 0 {
		l.Queue = DefaultTapQueue
	}
	t := &Taps{limits: l, account: map[string]int{}}
	t.byARN.Store(&map[string][]*Tap{})
	return t
}

// Tap is one reader's feed of one resource's records.
type Tap struct {
	taps    *Taps
	arn     string
	account string
	c       chan []byte
	dropped atomic.Uint64
	// done is closed when the tap ends (Close, or Taps.Close); records is
	// never closed, so a publisher racing with the end cannot panic.
	done chan struct{}
	once sync.Once
}

// Open starts a tap of the records of the service or service network
// with ARN resourceARN, held by account (who was allowed to read them:
// the caller checks that). It fails with a *TapLimitError when a limit is
// reached, ErrTapsClosed after Close.
func (t *Taps) Open(account, resourceARN string) (*Tap, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrTapsClosed
	}
	if t.account[account] >= t.limits.PerAccount {
		return nil, &TapLimitError{PerAccount: true, Limit: t.limits.PerAccount}
	}
	if int(t.open.Load()) >= t.limits.Total {
		return nil, &TapLimitError{Limit: t.limits.Total}
	}
	tp := &Tap{taps: t, arn: resourceARN, account: account, c: make(chan []byte, t.limits.Queue), done: make(chan struct{})}
	old := *t.byARN.Load()
	m := make(map[string][]*Tap, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[resourceARN] = append(append([]*Tap(nil), old[resourceARN]...), tp)
	t.byARN.Store(&m)
	t.account[account]++
	t.open.Add(1)
	return tp, nil
}

// remove takes tp out; mu is held.
func (t *Taps) remove(tp *Tap) {
	old := *t.byARN.Load()
	list := old[tp.arn]
	i := -1
	for j, x := range list {
		if x == tp {
			i = j
		}
	}
	if i < 0 {
		return
	}
	m := make(map[string][]*Tap, len(old))
	for k, v := range old {
		m[k] = v
	}
	if len(list) == 1 {
		delete(m, tp.arn)
	} else {
		rest := make([]*Tap, 0, len(list)-1)
		rest = append(append(rest, list[:i]...), list[i+1:]...)
		m[tp.arn] = rest
	}
	t.byARN.Store(&m)
	if t.account[tp.account]--; t.account[tp.account] <= 0 {
		delete(t.account, tp.account)
	}
	t.open.Add(-1)
}

// Tapped reports whether anyone taps the service or the service network
// (by ARN; either may be ""). It is called for every request: it neither
// locks nor allocates.
func (t *Taps) Tapped(serviceARN, serviceNetworkARN string) bool {
	if t == nil || t.open.Load() == 0 {
		return false
	}
	m := *t.byARN.Load()
	return (serviceARN != "" && len(m[serviceARN]) > 0) || (serviceNetworkARN != "" && len(m[serviceNetworkARN]) > 0)
}

// Len returns the number of open taps.
func (t *Taps) Len() int { return int(t.open.Load()) }

// publish hands line (a record with its newline, which the caller reuses)
// to every tap of the record's service and network. A tap whose queue is
// full drops it.
func (t *Taps) publish(e *Entry, line []byte) { t.publishTo(line, e.ServiceARN, e.ServiceNetworkARN) }

// publishTo hands line to every tap of the service and of the network
// (by ARN; either may be "").
func (t *Taps) publishTo(line []byte, serviceARN, serviceNetworkARN string) {
	m := *t.byARN.Load()
	var cp []byte
	for _, arn := range [2]string{serviceARN, serviceNetworkARN} {
		if arn == "" {
			continue
		}
		for _, tp := range m[arn] {
			if cp == nil {
				// One copy for every tap: readers only read it.
				cp = append([]byte(nil), line...)
			}
			tp.offer(cp)
		}
	}
}

func (tp *Tap) offer(line []byte) {
	select {
	case <-tp.done:
		return
	default:
	}
	select {
	case tp.c <- line:
	default:
		tp.dropped.Add(1)
	}
}

// Close ends every tap (their Done channels close) and refuses new ones:
// the process is stopping.
func (t *Taps) Close() {
	t.mu.Lock()
	t.closed = true
	var all []*Tap
	for _, list := range *t.byARN.Load() {
		all = append(all, list...)
	}
	t.mu.Unlock()
	for _, tp := range all {
		tp.Close()
	}
}

// Records delivers the tap's records: each one JSON object and its
// newline, exactly as the files get them. The slices must not be changed.
func (tp *Tap) Records() <-chan []byte { return tp.c }

// Done is closed when the tap has ended (Close, or the process stopping).
func (tp *Tap) Done() <-chan struct{} { return tp.done }

// Dropped returns how many records this tap has lost so far because its
// queue was full.
func (tp *Tap) Dropped() uint64 { return tp.dropped.Load() }

// ARN is the resource the tap follows.
func (tp *Tap) ARN() string { return tp.arn }

// Close ends the tap and releases its place in the limits. It is safe to
// call more than once and concurrently with publishing.
func (tp *Tap) Close() {
	tp.once.Do(func() {
		tp.taps.mu.Lock()
		tp.taps.remove(tp)
		tp.taps.mu.Unlock()
		close(tp.done)
	})
}
