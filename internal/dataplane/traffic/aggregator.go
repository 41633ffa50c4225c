package traffic

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/proxy"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// Anonymous is the principal of callers that were not authenticated (an
// auth-NONE service or network, or an unsigned request), as Lattice's
// access logs name them.
const Anonymous = "Anonymous"

// OverflowPrincipal is the principal of the overflow key: the requests of
// a minute past its key bound count under Key{Principal: OverflowPrincipal}
// (no service, VPC or target group), and Overflow says how many there were.
const OverflowPrincipal = "(overflow)"

// DefaultMaxKeysPerMinute bounds the keys of one minute by default.
const DefaultMaxKeysPerMinute = 10000

// Key is what the aggregates are kept by.
type Key struct {
	ServiceID string
	// Principal is the caller's principal ARN (the authenticated identity)
	// or Anonymous.
	Principal     string
	SourceVPCID   string
	TargetGroupID string // "" when the request was answered before a target group was picked
}

var overflowKey = Key{Principal: OverflowPrincipal}

// Config configures an Aggregator.
type Config struct {
	// Window is how long aggregates are kept (minute granularity; rounded
	// up to whole minutes); it must be positive.
	Window time.Duration
	// MaxKeysPerMinute bounds the keys of one minute (default
	// DefaultMaxKeysPerMinute).
	MaxKeysPerMinute int
	// Now is the clock (default time.Now); tests inject one.
	Now func() time.Time
}

// cell is one key's numbers in one minute: updated with atomic adds by
// concurrent requests, read with atomic loads by queries. Its requests are
// the sum of its sketch's buckets (each request adds to one): one atomic
// add fewer per request on counters every request of the key shares.
type cell struct {
	errors4xx, errors5xx atomic.Int64
	sketch               [SketchBuckets]atomic.Uint32
}

// nShards spreads the keys of a minute over maps, so that the inserts of
// new keys (the first request of a key in a minute) contend less.
const nShards = 16

// shard is a copy-on-write map: requests load it without a lock (an
// atomic pointer, never changed once published); a new key is inserted
// under mu into a copy. Reads of a key already seen therefore share no
// written memory but the key's own counters.
type shard struct {
	mu sync.Mutex
	m  atomic.Pointer[map[Key]*cell]
	_  [48]byte // a cache line each: shards are written by different inserts
}

// minute is one slot of the ring.
type minute struct {
	roll sync.Mutex
	// n is the Unix minute the slot holds (-1: none yet). It is stored
	// after the shards were emptied, so that a request that loads n == its
	// minute sees the slot's maps of that minute.
	n      atomic.Int64
	keys   atomic.Int64
	shards [nShards]shard
	// frozen is the minute in compact form once it is over (freeze): each
	// key's sketch from its first to its last non-zero bucket (requests of
	// a key in a minute seldom span more than a few dozen buckets; never
	// more than a live cell). Queries read it instead of the shards when
	// it is set.
	frozen atomic.Pointer[[]frozenCell]
}

// frozenCell is a key's numbers in a minute that is over.
type frozenCell struct {
	key                            Key
	requests, errors4xx, errors5xx int64
	lo                             int      // the index of buckets[0]
	buckets                        []uint32 // the first to the last non-zero bucket
}

// Aggregator keeps the per-minute aggregates. It is a proxy.Observer.
type Aggregator struct {
	window   time.Duration
	maxKeys  int64
	now      func() time.Time
	ring     []minute
	overflow atomic.Int64
}

var _ proxy.Observer = (*Aggregator)(nil)

// New returns an Aggregator; cfg.Window must be positive.
func New(cfg Config) *Aggregator {
	if cfg.Window <= 0 {
		panic("traffic: the window must be positive")
	}
	if cfg.MaxKeysPerMinute <= 0 {
		cfg.MaxKeysPerMinute = DefaultMaxKeysPerMinute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	mins := int((cfg.Window + time.Minute - 1) / time.Minute)
	// The window's minutes, the current one and one more: the oldest
	// minute a query of the whole window reads is not the slot the next
	// minute rolls into.
	a := &Aggregator{window: time.Duration(mins) * time.Minute, maxKeys: int64(cfg.MaxKeysPerMinute), now: cfg.Now,
		ring: make([]minute, mins+2)}
	for i := range a.ring {
		a.ring[i].n.Store(-1)
		for j := range a.ring[i].shards {
			empty := map[Key]*cell{}
			a.ring[i].shards[j].m.Store(&empty)
		}
	}
	return a
}

// Window is how long aggregates are kept (whole minutes).
func (a *Aggregator) Window() time.Duration { return a.window }

// Overflow is how many requests were counted under the overflow key since
// the start, because their minute had MaxKeysPerMinute keys already.
func (a *Aggregator) Overflow() int64 { return a.overflow.Load() }

// RequestStarted implements proxy.Observer: requests are counted when done.
func (a *Aggregator) RequestStarted(*snapshot.Snapshot, *snapshot.Service, *snapshot.TargetGroup) {}

// RequestDone implements proxy.Observer: it counts a request of a service
// (requests the data plane answered for no service are not kept).
func (a *Aggregator) RequestDone(o proxy.Observation) {
	if o.Service == nil {
		return
	}
	k := Key{ServiceID: o.Service.ID, Principal: Anonymous}
	if o.Caller != nil && o.Caller.PrincipalARN != "" {
		k.Principal = o.Caller.PrincipalARN
	}
	if o.VPC != nil {
		k.SourceVPCID = o.VPC.ID
	}
	if o.TargetGroup != nil {
		k.TargetGroupID = o.TargetGroup.ID
	}
	t := o.End
	if t.IsZero() {
		t = a.now()
	}
	a.Record(t, k, o.Status, o.Duration)
}

func unixMinute(t time.Time) int64 {
	s := t.Unix()
	if s < 0 {
		return (s - 59) / 60
	}
	return s / 60
}

func (a *Aggregator) slot(m int64) *minute {
	return &a.ring[int(uint64(m)%uint64(len(a.ring)))]
}

// shardOf spreads keys over the shards by the last bytes of their fields
// (IDs end in random characters): cheap, as the map lookup hashes the key
// again anyway, and good enough to spread the inserts.
func (a *Aggregator) shardOf(sl *minute, k *Key) *shard {
	h := 7*last(k.Principal) + 3*last(k.TargetGroupID) + last(k.ServiceID) + 11*last(k.SourceVPCID)
	return &sl.shards[h%nShards]
}

func last(s string) uint {
	if s == "" {
		return 0
	}
	return uint(s[len(s)-1])
}

// Record counts one request of key k that ended at t with status and
// duration. RequestDone calls it; it is exported for tests and replays.
func (a *Aggregator) Record(t time.Time, k Key, status int, d time.Duration) {
	m := unixMinute(t)
	sl := a.slot(m)
	for {
		n := sl.n.Load()
		if n == m {
			break
		}
		if n > m || !a.rollTo(sl, m) {
			return // older than the ring: its minute is gone
		}
	}
	sh := a.shardOf(sl, &k)
	c := (*sh.m.Load())[k]
	if c == nil {
		c = a.insert(sl, sh, m, k)
		if c == nil {
			return
		}
	}
	// The bucket before the error counters: a query, which loads the
	// counters first, never sees more errors than requests.
	c.sketch[bucketOf(d)].Add(1)
	switch {
	case status >= 500 && status <= 599:
		c.errors5xx.Add(1)
	case status >= 400 && status <= 499:
		c.errors4xx.Add(1)
	}
}

// rollTo empties slot sl for minute m, unless another request did (or it
// holds a newer minute: false).
func (a *Aggregator) rollTo(sl *minute, m int64) bool {
	sl.roll.Lock()
	defer sl.roll.Unlock()
	n := sl.n.Load()
	if n > m {
		return false
	}
	if n < m {
		for i := range sl.shards {
			sh := &sl.shards[i]
			sh.mu.Lock()
			empty := map[Key]*cell{}
			sh.m.Store(&empty)
			sh.mu.Unlock()
		}
		sl.frozen.Store(nil)
		sl.keys.Store(0)
		sl.n.Store(m)
		// Minutes before the last are over (requests are recorded when
		// they end, a moment after their clock read): compact them, off
		// the request path (a quiet minute rolls nothing: each roll looks
		// at every slot).
		go a.freezeBefore(m - 1)
	}
	return true
}

// freezeBefore freezes every minute older than m not frozen yet.
func (a *Aggregator) freezeBefore(m int64) {
	for i := range a.ring {
		sl := &a.ring[i]
		if n := sl.n.Load(); n >= 0 && n < m && sl.frozen.Load() == nil {
			a.freeze(n)
		}
	}
}

// freeze turns minute m's live cells into their compact form, when its
// slot still holds it. A request recorded into m after this (ended more
// than a minute before it was counted) is not seen by queries.
func (a *Aggregator) freeze(m int64) {
	sl := a.slot(m)
	sl.roll.Lock()
	defer sl.roll.Unlock()
	if sl.n.Load() != m || sl.frozen.Load() != nil {
		return
	}
	var out []frozenCell
	for i := range sl.shards {
		for k, c := range *sl.shards[i].m.Load() {
			f := frozenCell{key: k, errors4xx: c.errors4xx.Load(), errors5xx: c.errors5xx.Load()}
			var dense [SketchBuckets]uint32
			lo, hi := SketchBuckets, -1
			for j := range c.sketch {
				if dense[j] = c.sketch[j].Load(); dense[j] != 0 {
					lo, hi = min(lo, j), j
					f.requests += int64(dense[j])
				}
			}
			if hi >= 0 {
				f.lo, f.buckets = lo, append([]uint32(nil), dense[lo:hi+1]...)
			}
			out = append(out, f)
		}
	}
	// Published before the live maps are dropped: a query that read the
	// maps before they were dropped finds the frozen form set (Collect).
	sl.frozen.Store(&out)
	for i := range sl.shards {
		sh := &sl.shards[i]
		sh.mu.Lock()
		empty := map[Key]*cell{}
		sh.m.Store(&empty)
		sh.mu.Unlock()
	}
}

// insert adds key k to minute m's shard sh (a copy of the map with it),
// or returns the overflow key's cell when the minute is full; nil when the
// slot moved on meanwhile.
func (a *Aggregator) insert(sl *minute, sh *shard, m int64, k Key) *cell {
	sh.mu.Lock()
	if sl.n.Load() != m {
		sh.mu.Unlock()
		return nil
	}
	cur := *sh.m.Load()
	if c := cur[k]; c != nil {
		sh.mu.Unlock()
		return c
	}
	if k != overflowKey && sl.keys.Add(1) > a.maxKeys {
		sl.keys.Add(-1)
		sh.mu.Unlock()
		a.overflow.Add(1)
		osh := a.shardOf(sl, &overflowKey)
		if c := (*osh.m.Load())[overflowKey]; c != nil {
			return c
		}
		return a.insert(sl, osh, m, overflowKey)
	}
	next := make(map[Key]*cell, len(cur)+1)
	for kk, c := range cur {
		next[kk] = c
	}
	c := new(cell)
	next[k] = c
	sh.m.Store(&next)
	sh.mu.Unlock()
	return c
}

// Stats are the summed numbers of some keys over some minutes.
type Stats struct {
	Requests, Errors4xx, Errors5xx int64
	Latency                        Sketch
}

func (s *Stats) addFrozen(f *frozenCell) {
	s.Requests += f.requests
	s.Errors4xx += f.errors4xx
	s.Errors5xx += f.errors5xx
	for j, n := range f.buckets {
		s.Latency.counts[f.lo+j] += uint64(n)
		s.Latency.n += uint64(n)
	}
}

func (s *Stats) addCell(c *cell) {
	s.Errors4xx += c.errors4xx.Load()
	s.Errors5xx += c.errors5xx.Load()
	for i := range c.sketch {
		if v := c.sketch[i].Load(); v != 0 {
			s.Latency.counts[i] += uint64(v)
			s.Latency.n += uint64(v)
			s.Requests += int64(v)
		}
	}
}

// Collect sums the aggregates of the minutes from since's to the current
// one (included) whose keys keep accepts, grouped by group(key) (nil
// group: by key). since is clamped to the window.
func (a *Aggregator) Collect(since time.Time, keep func(Key) bool, group func(Key) Key) map[Key]*Stats {
	now := unixMinute(a.now())
	from := unixMinute(since)
	if oldest := now - int64(a.window/time.Minute); from < oldest {
		from = oldest
	}
	out := map[Key]*Stats{}
	stats := func(k Key) *Stats {
		if keep != nil && !keep(k) {
			return nil
		}
		g := k
		if group != nil {
			g = group(k)
		}
		s := out[g]
		if s == nil {
			s = new(Stats)
			out[g] = s
		}
		return s
	}
	var maps [nShards]map[Key]*cell
	for i := range a.ring {
		sl := &a.ring[i]
		if n := sl.n.Load(); n < from || n > now {
			continue
		}
		// The maps first, then frozen: freeze publishes the frozen form
		// before it drops the maps, so one of the two has every key.
		for j := range sl.shards {
			maps[j] = *sl.shards[j].m.Load()
		}
		if f := sl.frozen.Load(); f != nil {
			for j := range *f {
				fc := &(*f)[j]
				if s := stats(fc.key); s != nil {
					s.addFrozen(fc)
				}
			}
			continue
		}
		for _, m := range maps {
			for k, c := range m {
				if s := stats(k); s != nil {
					s.addCell(c)
				}
			}
		}
	}
	return out
}

// TargetGroupWindow sums a target group's requests of one service since `since` (minute granularity,
// the current minute included) and returns its requests, 5xx count and p99 latency.
func (a *Aggregator) TargetGroupWindow(serviceID, targetGroupID string, since time.Time) (requests, errors5xx int64, p99 time.Duration) {
	sums := a.Collect(since, func(k Key) bool { return k.ServiceID == serviceID && k.TargetGroupID == targetGroupID },
		func(Key) Key { return Key{} })
	s := sums[Key{}]
	if s == nil {
		return 0, 0, 0
	}
	return s.Requests, s.Errors5xx, s.Latency.Quantile(0.99)
}

// Row is one line of a query's answer: the key fields the query groups by
// (the others empty) and their numbers.
type Row struct {
	Key
	Requests, Errors4xx, Errors5xx int64
	P50, P99                       time.Duration
}

// rows turns sums into rows, busiest first (then by key, for a stable
// order).
func rows(sums map[Key]*Stats) []Row {
	out := make([]Row, 0, len(sums))
	for k, s := range sums {
		out = append(out, Row{Key: k, Requests: s.Requests, Errors4xx: s.Errors4xx, Errors5xx: s.Errors5xx,
			P50: s.Latency.Quantile(0.50), P99: s.Latency.Quantile(0.99)})
	}
	sort.Slice(out, func(i, j int) bool {
		x, y := out[i], out[j]
		if x.Requests != y.Requests {
			return x.Requests > y.Requests
		}
		if x.ServiceID != y.ServiceID {
			return x.ServiceID < y.ServiceID
		}
		if x.Principal != y.Principal {
			return x.Principal < y.Principal
		}
		if x.SourceVPCID != y.SourceVPCID {
			return x.SourceVPCID < y.SourceVPCID
		}
		return x.TargetGroupID < y.TargetGroupID
	})
	return out
}

// Service answers who called a service since `since`: its callers by
// (principal, source VPC) and its target groups (requests answered before
// a target group was picked count for their callers only).
func (a *Aggregator) Service(serviceID string, since time.Time) (callers, targetGroups []Row) {
	var cs, tgs map[Key]*Stats
	// One pass would do; two keep the grouping plain, and queries are rare.
	cs = a.Collect(since, func(k Key) bool { return k.ServiceID == serviceID },
		func(k Key) Key { return Key{Principal: k.Principal, SourceVPCID: k.SourceVPCID} })
	tgs = a.Collect(since, func(k Key) bool { return k.ServiceID == serviceID && k.TargetGroupID != "" },
		func(k Key) Key { return Key{TargetGroupID: k.TargetGroupID} })
	return rows(cs), rows(tgs)
}

// Caller answers what a caller (a principal ARN, or Anonymous) called
// since `since`: by service, of the services owned accepts (nil: all).
func (a *Aggregator) Caller(principal string, since time.Time, owned func(serviceID string) bool) []Row {
	return rows(a.Collect(since, func(k Key) bool {
		return k.Principal == principal && k.ServiceID != "" && (owned == nil || owned(k.ServiceID))
	}, func(k Key) Key { return Key{ServiceID: k.ServiceID} }))
}

// Top answers the n busiest services and the n busiest callers (by
// principal) since `since`, of the services owned accepts (nil: all).
func (a *Aggregator) Top(since time.Time, n int, owned func(serviceID string) bool) (services, callers []Row) {
	keep := func(k Key) bool { return k.ServiceID != "" && (owned == nil || owned(k.ServiceID)) }
	services = rows(a.Collect(since, keep, func(k Key) Key { return Key{ServiceID: k.ServiceID} }))
	callers = rows(a.Collect(since, keep, func(k Key) Key { return Key{Principal: k.Principal} }))
	if len(services) > n {
		services = services[:n]
	}
	if len(callers) > n {
		callers = callers[:n]
	}
	return services, callers
}
