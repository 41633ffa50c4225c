package etcd

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"

	"github.com/trellis-net/trellis/internal/store"
)

// DefaultPrefix is the key prefix of serve --etcd-prefix.
const DefaultPrefix = "/trellis/"

// DefaultCommitTimeout is Config.CommitTimeout's default: short enough
// for an API call, which the SDKs retry, to answer within their own
// timeouts; long enough to ride out a leader election (about a second
// with etcd's defaults).
const DefaultCommitTimeout = 5 * time.Second

// Config says how to reach etcd.
type Config struct {
	// Endpoints are the client URLs of the cluster's members
	// (http://HOST:PORT or https://HOST:PORT).
	Endpoints []string
	// Prefix is where Trellis's keys live (default DefaultPrefix).
	Prefix string
	// TLS is the client's TLS configuration for https endpoints (nil:
	// the system's roots, no client certificate).
	TLS *tls.Config
	// DialTimeout bounds Open's first contact with the cluster (default
	// 5 seconds).
	DialTimeout time.Duration
	// CommitTimeout bounds how long a call (View, Update, Revision) waits
	// for a cluster it cannot reach before it gives up with an error that
	// wraps store.ErrUnavailable (default DefaultCommitTimeout): the API
	// answers a retryable error within that rather than hang with etcd.
	// An Update whose commit was sent but not answered waits once more
	// as long for the outcome.
	CommitTimeout time.Duration
}

// changeLogRevisions is how many revisions the change log keeps, as the
// embedded store's (a reader further behind reads everything).
var changeLogRevisions int64 = 10000

// loseAnswer, set by tests, drops the answer of a commit attempt that
// etcd applied (as when a member dies after committing), to prove that
// the commit is then neither lost nor applied twice.
var loseAnswer func(attempt int) bool

// pageSize is how many keys one etcd Get of a Scan reads.
var pageSize int64 = 256

// Store is an etcd-backed store.Store.
type Store struct {
	cli    *clientv3.Client
	prefix string
	kv     string // prefix + "kv/"
	revKey string // prefix + "meta/revision"
	chg    string // prefix + "changes/"
	commit time.Duration
	dial   time.Duration
	// endpoints, comma-separated, name the cluster in errors.
	endpoints string

	// wsem queues this process's write transactions (they would only
	// conflict with each other).
	wsem chan struct{}

	mu       sync.Mutex
	closed   bool
	base     context.Context // ends at Close: the watches'
	cancel   context.CancelFunc
	watchers sync.WaitGroup
}

var _ store.Store = (*Store)(nil)

// ValidatePrefix checks a key prefix: it starts and ends with "/" and
// holds printable ASCII without spaces (it appears in etcdctl and logs).
func ValidatePrefix(p string) error {
	if len(p) < 1 || p[0] != '/' || p[len(p)-1] != '/' {
		return fmt.Errorf("etcd prefix %q: want a key prefix that starts and ends with /, e.g. /trellis/", p)
	}
	for i := 0; i < len(p); i++ {
		if p[i] <= ' ' || p[i] > '~' {
			return fmt.Errorf("etcd prefix %q: only printable ASCII without spaces", p)
		}
	}
	if len(p) > 256 {
		return fmt.Errorf("etcd prefix %q: at most 256 characters", p)
	}
	return nil
}

// ParseEndpoints splits a comma-separated list of client URLs and checks
// each: http or https, a host and a port, nothing else.
func ParseEndpoints(s string) ([]string, error) {
	var eps []string
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.Port() == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
			return nil, fmt.Errorf("etcd endpoint %q: want http://HOST:PORT or https://HOST:PORT", e)
		}
		eps = append(eps, u.Scheme+"://"+u.Host)
	}
	if len(eps) == 0 {
		return nil, errors.New("etcd endpoints: want one or more URLs, e.g. http://127.0.0.1:2379")
	}
	return eps, nil
}

// TLSConfig builds the client TLS configuration of the --etcd-cacert,
// --etcd-cert and --etcd-key flags: caFile (PEM) replaces the system's
// roots; certFile and keyFile, given together, are the client certificate.
// All empty: nil.
func TLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	if caFile == "" && certFile == "" && keyFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		b, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("--etcd-cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("--etcd-cacert %s: no PEM certificate in it", caFile)
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("--etcd-cert and --etcd-key are given together")
	}
	if certFile != "" {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("--etcd-cert/--etcd-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg, nil
}

// Open connects to the cluster and checks that it answers (within
// DialTimeout): an unreachable cluster is an error that wraps
// store.ErrUnavailable and names the endpoints.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s, err := Dial(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Dial makes a Store without contacting the cluster (the connections are
// made in the background, as calls need them): a data-plane node whose
// etcd is away at start serves its local copy and uses the Store when the
// cluster answers (docs/etcd.md, "Static stability"). Ping checks it.
func Dial(cfg Config) (*Store, error) {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if err := ValidatePrefix(cfg.Prefix); err != nil {
		return nil, err
	}
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("etcd endpoints: want one or more URLs, e.g. http://127.0.0.1:2379")
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.CommitTimeout <= 0 {
		cfg.CommitTimeout = DefaultCommitTimeout
	}
	tlsCfg := cfg.TLS
	if tlsCfg == nil {
		for _, e := range cfg.Endpoints {
			if strings.HasPrefix(e, "https://") {
				tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
				break
			}
		}
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: cfg.Endpoints, DialTimeout: cfg.DialTimeout, TLS: tlsCfg,
		// The client's own log would bypass Trellis's (slog); its errors
		// reach the caller as errors.
		Logger:               zap.NewNop(),
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 3 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd %s: %w", strings.Join(cfg.Endpoints, ","), err)
	}
	p := cfg.Prefix
	s := &Store{cli: cli, prefix: p, kv: p + "kv/", revKey: p + "meta/revision", chg: p + "changes/",
		commit: cfg.CommitTimeout, dial: cfg.DialTimeout, endpoints: strings.Join(cfg.Endpoints, ","),
		wsem: make(chan struct{}, 1)}
	s.base, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Ping reads the revision counter once, waiting at most DialTimeout: nil
// when the cluster answers; else an error that names the endpoints (and
// wraps store.ErrUnavailable when the cluster could not be reached).
func (s *Store) Ping(ctx context.Context) error {
	if s.isClosed() {
		return store.ErrClosed
	}
	cctx, cancel := context.WithTimeout(ctx, s.dial)
	defer cancel()
	if _, _, _, err := s.head(cctx); err != nil {
		// Its own deadline passed: the cluster did not answer in time.
		return fmt.Errorf("etcd %s: %w", s.endpoints, unavailable(ctx, err))
	}
	return nil
}

// Endpoints are the cluster's client URLs, comma-separated (for errors
// and logs).
func (s *Store) Endpoints() string { return s.endpoints }

// unavailable wraps err with store.ErrUnavailable when it says that the
// cluster could not be reached in time — the connection is refused or
// lost, no member answers before the deadline, there is no leader — as
// opposed to a request refused as it is (too large, a compaction, a
// permission) or the caller's own ctx ending, which are passed on as
// they are.
func unavailable(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil || errors.Is(err, store.ErrUnavailable) || !isUnavailable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
}

func isUnavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		return ee.Code() == codes.Unavailable || ee.Code() == codes.DeadlineExceeded
	}
	if st, ok := status.FromError(err); ok {
		return st.Code() == codes.Unavailable || st.Code() == codes.DeadlineExceeded
	}
	return false
}

// Prefix is the store's key prefix in etcd.
func (s *Store) Prefix() string { return s.prefix }

// Client is the store's etcd client, for what the nodes share beside the
// store under the same prefix (internal/cluster: leases, published health,
// elections). Those keys are not the store's: they never move its revision.
func (s *Store) Client() *clientv3.Client { return s.cli }

// head reads the counter: etcd's current revision, the counter key's
// ModRevision (0 when it is missing: an empty store) and Trellis's
// revision.
func (s *Store) head(ctx context.Context) (etcdRev, modRev, rev int64, err error) {
	r, err := s.get(ctx, s.revKey)
	if err != nil {
		return 0, 0, 0, err
	}
	etcdRev = r.Header.Revision
	if len(r.Kvs) == 0 {
		return etcdRev, 0, 0, nil
	}
	rev, err = strconv.ParseInt(string(r.Kvs[0].Value), 10, 64)
	if err != nil || rev < 0 {
		return 0, 0, 0, fmt.Errorf("%w: %s holds %q", errBadCounter, s.revKey, r.Kvs[0].Value)
	}
	return etcdRev, r.Kvs[0].ModRevision, rev, nil
}

// begin is head for a transaction about to start: nothing has been read or
// written yet, so an error that may pass (a member failing over) is met by
// asking again, for up to CommitTimeout in all.
func (s *Store) begin(ctx context.Context) (etcdRev, modRev, rev int64, err error) {
	deadline := time.Now().Add(s.commit)
	extended := false
	for attempt := 1; ; attempt++ {
		bounded, cancel := context.WithDeadline(ctx, deadline)
		etcdRev, modRev, rev, err = s.head(bounded)
		cancel()
		if err != nil && !extended && s.electing(ctx, err) {
			// Between leaders (see electing): wait once more as long.
			deadline, extended = deadline.Add(s.commit), true
		}
		if err == nil || ctx.Err() != nil || permanent(err) || !time.Now().Before(deadline) || s.isClosed() {
			return etcdRev, modRev, rev, unavailable(ctx, err)
		}
		select {
		case <-time.After(min(time.Duration(min(attempt, 10))*50*time.Millisecond, time.Until(deadline))):
		case <-ctx.Done():
			return 0, 0, 0, ctx.Err()
		}
	}
}

// get is one etcd Get, bounded by CommitTimeout: the client waits for a
// member to be reachable (gRPC's wait-for-ready), and a store whose
// cluster is gone must answer an error, not hang.
func (s *Store) get(ctx context.Context, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	cctx, cancel := context.WithTimeout(ctx, s.commit)
	defer cancel()
	r, err := s.cli.Get(cctx, key, opts...)
	return r, unavailable(ctx, err)
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Store) changeKey(rev int64) string { return fmt.Sprintf("%s%020d", s.chg, rev) }

// view is a read-only transaction at one etcd revision.
type view struct {
	s       *Store
	ctx     context.Context
	etcdRev int64
	rev     int64
}

// write is a buffered Put (del false) or Delete.
type write struct {
	value []byte
	del   bool
}

// tx is a read-write transaction: a view and the buffered writes.
type tx struct {
	view
	writes map[string]write
	keys   []string // every Put and Delete in order, for the change log
}

func (v *view) Get(key string) ([]byte, bool, error) {
	r, err := v.s.get(v.ctx, v.s.kv+key, clientv3.WithRev(v.etcdRev))
	if err != nil {
		return nil, false, err
	}
	if len(r.Kvs) == 0 {
		return nil, false, nil
	}
	return r.Kvs[0].Value, true, nil
}

func (v *view) Revision() int64 { return v.rev }

// scan pages through the keys with prefix after `after` at the view's
// revision; fn returns false to stop.
func (v *view) scan(prefix, after string, fn func(key string, value []byte) (bool, error)) error {
	start := v.s.kv + prefix
	if after != "" && after >= prefix {
		start = v.s.kv + after + "\x00" // the first key after `after`
	}
	end := clientv3.GetPrefixRangeEnd(v.s.kv + prefix)
	for {
		r, err := v.s.get(v.ctx, start, clientv3.WithRange(end), clientv3.WithLimit(pageSize), clientv3.WithRev(v.etcdRev))
		if err != nil {
			return err
		}
		for _, kv := range r.Kvs {
			more, err := fn(string(kv.Key[len(v.s.kv):]), kv.Value)
			if err != nil || !more {
				return err
			}
		}
		if !r.More || len(r.Kvs) == 0 {
			return nil
		}
		start = string(r.Kvs[len(r.Kvs)-1].Key) + "\x00"
	}
}

func (v *view) Scan(prefix, after string, fn func(string, []byte) (bool, error)) error {
	return v.scan(prefix, after, fn)
}

// Changes implements store.ReadTx: the change log entries after `after`,
// up to the view's revision.
func (v *view) Changes(after int64, fn func(string) error) error {
	if after >= v.rev {
		return nil
	}
	start, end := v.s.changeKey(after+1), v.s.changeKey(v.rev+1)
	next := after + 1
	for {
		r, err := v.s.get(v.ctx, start, clientv3.WithRange(end), clientv3.WithLimit(pageSize), clientv3.WithRev(v.etcdRev))
		if err != nil {
			return err
		}
		for _, kv := range r.Kvs {
			rev, err := strconv.ParseInt(strings.TrimPrefix(string(kv.Key), v.s.chg), 10, 64)
			if err != nil || rev != next {
				// A gap: the revisions asked for begin before the log.
				return store.ErrCompacted
			}
			keys, err := decodeKeys(kv.Value)
			if err != nil {
				return fmt.Errorf("store: corrupt change log at revision %d: %w", rev, err)
			}
			for _, k := range keys {
				if err := fn(k); err != nil {
					return err
				}
			}
			next++
		}
		if !r.More || len(r.Kvs) == 0 {
			break
		}
		start = string(r.Kvs[len(r.Kvs)-1].Key) + "\x00"
	}
	if next != v.rev+1 {
		return store.ErrCompacted
	}
	return nil
}

// A change log entry is a nonce (nonceLen bytes: which attempt wrote it)
// and the keys, each a uvarint length and the bytes.
const nonceLen = 16

func encodeKeys(nonce []byte, keys []string) []byte {
	b := append([]byte(nil), nonce...)
	for _, k := range keys {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	return b
}

func decodeKeys(v []byte) ([]string, error) {
	if len(v) < nonceLen {
		return nil, errors.New("short entry")
	}
	v = v[nonceLen:]
	var keys []string
	for len(v) > 0 {
		n, w := binary.Uvarint(v)
		if w <= 0 || uint64(len(v)-w) < n {
			return nil, errors.New("bad key length")
		}
		keys = append(keys, string(v[w:w+int(n)]))
		v = v[w+int(n):]
	}
	return keys, nil
}

func (t *tx) Get(key string) ([]byte, bool, error) {
	if w, ok := t.writes[key]; ok {
		if w.del {
			return nil, false, nil
		}
		return bytes.Clone(w.value), true, nil
	}
	return t.view.Get(key)
}

// Scan merges the buffered writes into the view's keys, in key order.
func (t *tx) Scan(prefix, after string, fn func(string, []byte) (bool, error)) error {
	var dirty []string
	for k := range t.writes {
		if strings.HasPrefix(k, prefix) && k > after {
			dirty = append(dirty, k)
		}
	}
	if len(dirty) == 0 {
		return t.view.scan(prefix, after, fn)
	}
	slices.Sort(dirty)
	i := 0
	// emitDirty passes the buffered key dirty[i] on, unless deleted.
	emitDirty := func() (bool, error) {
		k := dirty[i]
		i++
		if w := t.writes[k]; !w.del {
			return fn(k, bytes.Clone(w.value))
		}
		return true, nil
	}
	stopped := false
	err := t.view.scan(prefix, after, func(k string, v []byte) (bool, error) {
		for i < len(dirty) && dirty[i] < k {
			if more, err := emitDirty(); err != nil || !more {
				stopped = true
				return false, err
			}
		}
		if i < len(dirty) && dirty[i] == k {
			more, err := emitDirty()
			stopped = err != nil || !more
			return !stopped, err
		}
		more, err := fn(k, v)
		stopped = err != nil || !more
		return !stopped, err
	})
	if err != nil || stopped {
		return err
	}
	for i < len(dirty) {
		if more, err := emitDirty(); err != nil || !more {
			return err
		}
	}
	return nil
}

func (t *tx) Put(key string, value []byte) error {
	t.writes[key] = write{value: bytes.Clone(value)}
	t.keys = append(t.keys, key)
	return nil
}

func (t *tx) Delete(key string) error {
	t.writes[key] = write{del: true}
	t.keys = append(t.keys, key)
	return nil
}

// Changes of a read-write transaction: its own buffered writes are not
// in the log yet, as on the embedded store (they have no revision).
func (t *tx) Changes(after int64, fn func(string) error) error { return t.view.Changes(after, fn) }

// View implements store.Store.
func (s *Store) View(ctx context.Context, fn func(store.ReadTx) error) error {
	if s.isClosed() {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	etcdRev, _, rev, err := s.begin(ctx)
	if err != nil {
		return err
	}
	return fn(&view{s: s, ctx: ctx, etcdRev: etcdRev, rev: rev})
}

// errConflict: another node committed a write since fn's snapshot.
var errConflict = errors.New("etcd: write conflict")

// Update implements store.Store (see the package doc: optimistic, serial
// writes, fn re-run after a conflict with another node).
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) (int64, error) {
	if s.isClosed() {
		return 0, store.ErrClosed
	}
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-s.base.Done(): // closed: Close holds the semaphore
		return 0, store.ErrClosed
	}
	defer func() { <-s.wsem }()
	for attempt := 0; ; attempt++ {
		if s.isClosed() {
			return 0, store.ErrClosed
		}
		rev, err := s.try(ctx, fn)
		if !errors.Is(err, errConflict) {
			return rev, err
		}
		// Back off a little, more after each conflict, so that nodes
		// contending for the counter take turns.
		d := time.Duration(min(attempt+1, 20)) * time.Millisecond
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// try runs fn once on a fresh snapshot and commits its writes.
func (s *Store) try(ctx context.Context, fn func(store.Tx) error) (int64, error) {
	etcdRev, modRev, rev, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	t := &tx{view: view{s: s, ctx: ctx, etcdRev: etcdRev, rev: rev}, writes: map[string]write{}}
	if err := fn(t); err != nil {
		return 0, err
	}
	if len(t.writes) == 0 {
		return rev, nil
	}
	newRev := rev + 1
	nonce := make([]byte, nonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return 0, err
	}
	ops := make([]clientv3.Op, 0, len(t.writes)+3)
	keys := make([]string, 0, len(t.writes))
	for k := range t.writes {
		keys = append(keys, k)
	}
	slices.Sort(keys) // a stable order: the same Txn on every attempt
	for _, k := range keys {
		if w := t.writes[k]; w.del {
			ops = append(ops, clientv3.OpDelete(s.kv+k))
		} else {
			ops = append(ops, clientv3.OpPut(s.kv+k, string(w.value)))
		}
	}
	ops = append(ops, clientv3.OpPut(s.revKey, strconv.FormatInt(newRev, 10)),
		clientv3.OpPut(s.changeKey(newRev), string(encodeKeys(nonce, t.keys))))
	if old := newRev - changeLogRevisions; old > 0 {
		ops = append(ops, clientv3.OpDelete(s.changeKey(old)))
	}
	cmp := clientv3.Compare(clientv3.ModRevision(s.revKey), "=", modRev)
	mine := s.changeKey(newRev)
	deadline := time.Now().Add(s.commit)
	extended := false
	for attempt := 0; ; attempt++ {
		// An attempt is bounded by half the timeout, so that one stuck
		// on a member that lost its leader leaves time to ask again.
		tctx, cancel := context.WithTimeout(ctx, max(s.commit/2, 250*time.Millisecond))
		r, err := s.cli.Txn(tctx).If(cmp).Then(ops...).Else(clientv3.OpGet(mine)).Commit()
		cancel()
		if err != nil && !extended && s.electing(ctx, err) {
			// A member took the Txn but the cluster is between leaders:
			// a new one is usually elected within seconds, and then the
			// outcome can be learnt. Wait once more as long (doc.go).
			deadline, extended = deadline.Add(s.commit), true
		}
		if err == nil && loseAnswer != nil && loseAnswer(attempt) {
			err = status.Error(codes.Unavailable, "test: the answer was lost")
		}
		if err == nil {
			if r.Succeeded {
				return newRev, nil
			}
			if attempt > 0 {
				// An earlier attempt's outcome was unknown: did it commit?
				if rr := r.Responses[0].GetResponseRange(); rr != nil && len(rr.Kvs) == 1 &&
					bytes.HasPrefix(rr.Kvs[0].Value, nonce) {
					return newRev, nil
				}
			}
			return 0, errConflict
		}
		if ctx.Err() != nil {
			return 0, fmt.Errorf("etcd: commit of revision %d: outcome unknown: %w", newRev, ctx.Err())
		}
		if permanent(err) {
			return 0, fmt.Errorf("etcd: commit of revision %d: %w", newRev, err)
		}
		if time.Now().After(deadline) {
			// Never acknowledged: the caller is told that the write may
			// or may not have been applied (an attempt may have reached
			// the leader), and that the store is away, if it is.
			return 0, fmt.Errorf("etcd: commit of revision %d: outcome unknown (the write may or may not have been applied): %w",
				newRev, unavailable(ctx, err))
		}
		// The outcome is unknown: send the same Txn again (see doc.go).
		select {
		case <-time.After(time.Duration(min(attempt+1, 10)) * 50 * time.Millisecond):
		case <-ctx.Done():
			return 0, fmt.Errorf("etcd: commit of revision %d: outcome unknown: %w", newRev, ctx.Err())
		}
	}
}

// electing tells the errors of a cluster that is reachable but between
// leaders: a member answered that it has none or lost it, or took the
// request and did not answer in time. A cluster that cannot be reached at
// all (connections refused) is not electing: the caller is answered
// within CommitTimeout.
func (s *Store) electing(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	for _, e := range []error{rpctypes.ErrNoLeader, rpctypes.ErrLeaderChanged, rpctypes.ErrTimeout,
		rpctypes.ErrTimeoutDueToLeaderFail, rpctypes.ErrTimeoutDueToConnectionLost, rpctypes.ErrNotCapable} {
		if errors.Is(err, e) {
			return true
		}
	}
	// No answer in time: electing only if a member is connected (a
	// cluster that is down leaves the connection connecting or failed).
	st, ok := status.FromError(err)
	if !errors.Is(err, context.DeadlineExceeded) && (!ok || st.Code() != codes.DeadlineExceeded) {
		return false
	}
	return s.cli.ActiveConnection().GetState() == connectivity.Ready
}

// errBadCounter: the revision counter key holds no revision (something
// else wrote under the prefix).
var errBadCounter = errors.New("etcd: the revision counter is not a number")

// permanent tells the errors that sending the same Txn again would only
// repeat: the request is refused as it is.
func permanent(err error) bool {
	for _, p := range []error{rpctypes.ErrTooManyOps, rpctypes.ErrRequestTooLarge, rpctypes.ErrDuplicateKey,
		rpctypes.ErrNoSpace, rpctypes.ErrPermissionDenied, rpctypes.ErrAuthFailed, rpctypes.ErrInvalidAuthToken,
		rpctypes.ErrUserEmpty, errBadCounter} {
		if errors.Is(err, p) {
			return true
		}
	}
	return false
}

// Watch implements store.Store: an etcd watch on the revision counter.
func (s *Store) Watch(ctx context.Context) <-chan int64 {
	ch := make(chan int64, 1)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		close(ch)
		return ch
	}
	s.watchers.Add(1)
	s.mu.Unlock()
	wctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.base, cancel)
	// Start at the etcd revision current now, so that a commit right
	// after Watch returns is seen even before etcd registered the watch.
	var from int64
	hctx, hcancel := context.WithTimeout(wctx, 5*time.Second)
	if etcdRev, _, _, err := s.head(hctx); err == nil {
		from = etcdRev + 1
	}
	hcancel()
	go func() {
		defer s.watchers.Done()
		defer stop()
		defer cancel()
		defer close(ch)
		s.watch(wctx, ch, from)
	}()
	return ch
}

func (s *Store) watch(ctx context.Context, ch chan int64, from int64) {
	var last int64
	for ctx.Err() == nil {
		opts := []clientv3.OpOption{}
		if from > 0 {
			opts = append(opts, clientv3.WithRev(from))
		}
		// WithRequireLeader: a member cut off from the leader ends the
		// watch instead of staying silent; it is started again elsewhere.
		for resp := range s.cli.Watch(clientv3.WithRequireLeader(ctx), s.revKey, opts...) {
			if resp.Err() != nil {
				break
			}
			for _, ev := range resp.Events {
				from = ev.Kv.ModRevision + 1
				if ev.Type != clientv3.EventTypePut {
					continue
				}
				if rev, err := strconv.ParseInt(string(ev.Kv.Value), 10, 64); err == nil && rev > last {
					last = rev
					store.SendLatest(ch, rev)
				}
			}
		}
		if ctx.Err() != nil {
			return
		}
		// The watch broke: read the counter (changes while it was down
		// are told at once) and watch on from there.
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return
		}
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		etcdRev, _, rev, err := s.head(hctx)
		cancel()
		if err != nil {
			continue // from stays: the watch resumes where it broke
		}
		if rev > last {
			last = rev
			store.SendLatest(ch, rev)
		}
		from = etcdRev + 1
	}
}

// Revision implements store.Store.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	if s.isClosed() {
		return 0, store.ErrClosed
	}
	_, _, rev, err := s.begin(ctx)
	return rev, err
}

// Close implements store.Store: watches end, Updates in flight finish
// (they hold the semaphore), later calls get store.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.watchers.Wait()
	// Wait for an Update in flight to finish its commit.
	s.wsem <- struct{}{}
	if err := s.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
