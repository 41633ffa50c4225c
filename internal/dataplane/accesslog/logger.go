package accesslog

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// The request path (Log) does three things: encode the record once into a
// pooled buffer, find each subscription's sink in a copy-on-write map
// (one atomic load and a map lookup; the slow path, under Logger.mu, runs
// once per subscription), and append the line to the sink's buffer under
// the sink's own mutex. No I/O and, once buffers have grown to their
// working size, no allocation.
//
// Everything else happens in flushes, serialized by Logger.flushMu: the
// background flusher's (every FlushInterval, or early when a buffer passes
// wakeAt), Flush's and Close's. A flush swaps each sink's buffer with its
// spare under the sink's mutex and writes the batch with no lock held that
// Log could wait on. Files, the gzip writer and the rate limits of warnings
// belong to whoever holds flushMu.

// Config configures a Logger.
type Config struct {
	// Dir is the root directory of every destination. Required.
	Dir string
	// Region is the region in S3 object keys (default "us-east-1").
	Region string
	// FlushInterval bounds how long a record stays buffered (default 1s).
	FlushInterval time.Duration
	// MaxPending is how many bytes a destination may buffer before its
	// records are dropped (default 8 MiB).
	MaxPending int
	// Logger receives warnings: unusable destinations, failed writes,
	// dropped records (default slog.Default()).
	Logger *slog.Logger
	// S3ObjectInterval is how long an S3 object collects records before it
	// is sealed (renamed to its .json.gz name) and a new one is started
	// (default 1 minute; an object never spans two 5-minute windows). Until
	// then it is written as NAME.json.gz.partial. Shorter intervals show
	// records sooner, longer ones make fewer objects.
	S3ObjectInterval time.Duration
	// Now is the clock of S3 windows and object names, and of the idle
	// and warning timers (default time.Now).
	Now func() time.Time
	// Taps bounds the live taps (Logger.Taps, tap.go).
	Taps TapLimits
	// Node names this node (serve --node-name): the first four hex digits
	// of every S3 object's HASH are derived from it, so that nodes writing
	// to one shared directory name their objects apart (objectPath).
	Node string
}

const (
	// wakeAt is the buffer size at which Log wakes the flusher early. Each
	// flush of a destination costs a few system calls besides the write
	// (the path's Stat through the Root, an S3 object's gzip member), so
	// batches are large: at 1 MiB, 10% less CPU per logged request than at
	// 64 KiB with two destinations (benchmark of the data plane under wrk).
	wakeAt = 1 << 20
	// idleClose is how long a destination's file stays open with nothing
	// to write.
	idleClose = 2 * time.Minute
	// warnEvery is the least time between two warnings of one kind: write
	// failures of a destination, dropped records.
	warnEvery = time.Minute
	// maxLine is the largest line buffer Log returns to its pool.
	maxLine = 64 << 10
)

// Logger writes access log records to their subscriptions' destinations.
// Its methods are safe for concurrent use.
type Logger struct {
	root       *os.Root
	region     string
	maxPending int
	log        *slog.Logger
	now        func() time.Time
	s3Every    time.Duration
	nodeHash   uint16 // Config.Node's part of S3 object names

	lines   sync.Pool // *[]byte: Log's scratch buffer
	taps    *Taps
	routes  atomic.Pointer[map[subKey]*sink]
	dropped atomic.Uint64
	// accepted counts the deliveries buffered for writing (Accepted).
	accepted atomic.Uint64
	closed   atomic.Bool
	wake     chan struct{}
	stop     chan struct{}
	done     chan struct{}

	mu     sync.Mutex // guards sinks, all, warned and the writing of routes
	sinks  map[string]*sink
	all    []*sink
	warned map[string]bool // destination ARNs already reported unusable

	flushMu    sync.Mutex // serializes flushes; guards the fields below and the sinks' files
	finished   bool       // Close has flushed for the last time
	batch      []*sink
	gz         *gzip.Writer
	gzBuf      bytes.Buffer
	reported   uint64 // dropped count at the last warning
	lastReport time.Time
}

// subKey identifies a subscription across snapshots: they are rebuilt on
// every change, so pointers are not stable, but IDs and destinations are.
// Routes and sinks are never forgotten (a deleted subscription leaves a map
// entry and an idle sink with no file and no buffers): the cost is a few
// strings per subscription ever logged to, and forgetting would need the
// request path to say when a route was last used.
type subKey struct{ id, dest string }

// New creates Dir if needed and starts the background flusher.
func New(cfg Config) (*Logger, error) {
	if cfg.Dir == "" {
		return nil, errors.New("accesslog: no directory")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = time.Second
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 8 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.S3ObjectInterval <= 0 {
		cfg.S3ObjectInterval = time.Minute
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("accesslog: %w", err)
	}
	root, err := os.OpenRoot(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("accesslog: %w", err)
	}
	l := &Logger{
		root: root, region: cfg.Region, maxPending: cfg.MaxPending, log: cfg.Logger, now: cfg.Now, s3Every: cfg.S3ObjectInterval,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		sinks: map[string]*sink{}, warned: map[string]bool{}, taps: NewTaps(cfg.Taps), nodeHash: NodeHash(cfg.Node),
	}
	l.lines.New = func() any { b := make([]byte, 0, 2048); return &b }
	l.routes.Store(&map[subKey]*sink{})
	go l.run(cfg.FlushInterval)
	return l, nil
}

// Log writes one record to every subscription in svcSubs and snSubs
// (either may be nil), and to the taps of its service and network
// (Taps). It never blocks on I/O: records are buffered, and dropped (see
// Dropped) when a destination is unusable or has MaxPending bytes
// waiting already. After Close it does nothing.
func (l *Logger) Log(e *Entry, svcSubs, snSubs []*snapshot.LogSubscription) {
	tapped := l.taps.Tapped(e.ServiceARN, e.ServiceNetworkARN)
	if (len(svcSubs)+len(snSubs) == 0 && !tapped) || l.closed.Load() {
		return
	}
	bp := l.lines.Get().(*[]byte)
	line := append(AppendJSON((*bp)[:0], e), '\n')
	if tapped {
		l.taps.publish(e, line)
	}
	routes := *l.routes.Load()
	for _, sub := range svcSubs {
		l.deliver(routes, sub, line)
	}
	for _, sub := range snSubs {
		l.deliver(routes, sub, line)
	}
	if cap(line) <= maxLine {
		*bp = line
		l.lines.Put(bp)
	}
}

// deliver appends line to sub's sink.
func (l *Logger) deliver(routes map[subKey]*sink, sub *snapshot.LogSubscription, line []byte) {
	if sub == nil {
		return
	}
	s, ok := routes[subKey{sub.ID, sub.DestinationARN}]
	if !ok {
		s = l.resolve(sub)
	}
	if s == nil {
		if !l.closed.Load() {
			l.dropped.Add(1)
		}
		return
	}
	switch s.append(line, l.maxPending) {
	case appendFull:
		l.dropped.Add(1)
		return
	case appendOK:
		l.accepted.Add(1)
	case appendWake:
		l.accepted.Add(1)
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// resolve finds or makes the sink of sub and records it in routes: nil
// when its destination is unusable (reported once per destination ARN).
func (l *Logger) resolve(sub *snapshot.LogSubscription) *sink {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := subKey{sub.ID, sub.DestinationARN}
	old := *l.routes.Load()
	if s, ok := old[key]; ok {
		return s
	}
	if l.closed.Load() {
		return nil
	}
	var s *sink
	t, err := resolveTarget(sub, l.region)
	if err != nil {
		if !l.warned[sub.DestinationARN] {
			l.warned[sub.DestinationARN] = true
			l.log.Warn("access logs: destination not usable, its records are dropped",
				"destination", sub.DestinationARN, "subscription", sub.ARN, "err", err)
		}
	} else if s = l.sinks[t.key]; s == nil {
		s = &sink{t: t, dest: sub.DestinationARN}
		l.sinks[t.key] = s
		l.all = append(l.all, s)
	}
	routes := make(map[subKey]*sink, len(old)+1)
	for k, v := range old {
		routes[k] = v
	}
	routes[key] = s
	l.routes.Store(&routes)
	return s
}

// Taps returns the logger's live taps. The data plane asks Tapped (through
// the logger's Tapped) whether to build a record for a request that has
// no subscription.
func (l *Logger) Taps() *Taps { return l.taps }

// Tapped reports whether anyone taps the service or the network, by ARN:
// a request to them needs its record even without subscriptions. No lock,
// no allocation.
func (l *Logger) Tapped(serviceARN, serviceNetworkARN string) bool {
	return l.taps.Tapped(serviceARN, serviceNetworkARN)
}

// Dropped returns the number of records dropped so far: for an unusable
// destination, a full buffer or a failed write.
func (l *Logger) Dropped() uint64 { return l.dropped.Load() }

// Accepted returns the number of records taken for writing so far (one
// per destination a record goes to); a failed write later counts them in
// Dropped too.
func (l *Logger) Accepted() uint64 { return l.accepted.Load() }

// run is the background flusher.
func (l *Logger) run(interval time.Duration) {
	defer close(l.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		case <-l.wake:
		}
		_ = l.Flush() // failures are logged, rate-limited
	}
}

// Flush writes out every record buffered when it is called. Failed writes
// are logged (at most once a minute per destination) and their records
// dropped; the error joins them.
func (l *Logger) Flush() error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	if l.finished {
		return nil
	}
	return l.flush(false)
}

// Close stops the flusher, writes out every buffered record and closes the
// files. Records logged after Close are dropped silently.
func (l *Logger) Close() error {
	l.mu.Lock()
	if l.closed.Load() {
		l.mu.Unlock()
		return nil
	}
	l.closed.Store(true)
	l.mu.Unlock()
	l.taps.Close()
	close(l.stop)
	<-l.done
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	err := l.flush(true)
	for _, s := range l.batch {
		if cerr := l.closeFile(s); cerr != nil {
			err = errors.Join(err, fmt.Errorf("access logs: close %s: %w", s.dest, cerr))
		}
	}
	l.batch = nil
	l.finished = true
	return errors.Join(err, l.root.Close())
}

// flush writes out every sink's buffer; final marks the sinks closed so
// that no record can slip in behind the last flush. flushMu is held.
func (l *Logger) flush(final bool) error {
	now := l.now()
	l.mu.Lock()
	l.batch = append(l.batch[:0], l.all...)
	l.mu.Unlock()
	var errs []error
	for _, s := range l.batch {
		if err := l.flushSink(s, now, final); err != nil {
			errs = append(errs, err)
		}
	}
	if total := l.dropped.Load(); total > l.reported && (final || now.Sub(l.lastReport) >= warnEvery) {
		l.log.Warn("access logs: records dropped", "dropped", total-l.reported, "total", total)
		l.reported, l.lastReport = total, now
	}
	return errors.Join(errs...)
}
