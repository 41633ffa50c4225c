// Package watch feeds the snapshot from the store: Load reads the state in
// one consistent view, and the Watcher recompiles and publishes a new
// snapshot after every committed change (reading only the keys the store's
// change log names, and compiling incrementally: snapshot.Incremental). It is the only bridge between the
// store and the data plane, so that the data plane's packages, which import
// internal/snapshot, never depend on the store.
//
// Static stability (watcher.go, cache.go): when the store cannot be
// reached, the watcher keeps the last snapshot published, reports how
// stale it is, and catches up by probing the store's revision; the Cache
// is a node's local copy of what its last snapshot was compiled from, so
// that a node whose store is away at start serves that.
package watch

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/schema"
)

// Load reads the state from a consistent view of the store (complete:
// nothing Pending).
func Load(tx store.ReadTx) (*snapshot.State, error) {
	st, err := (&Loader{}).Load(tx)
	if err != nil {
		return nil, err
	}
	st.Complete()
	return st, nil
}

// Loader reads the state like Load, but keeps what it read: after the
// first Load it reads only the keys that the revisions since changed
// (store.ReadTx.Changes), and an entity whose stored bytes did not change
// is not decoded again. At 10,000 services and 100,000 targets a full scan
// costs more than the compile (issue 15); a change usually touches a
// handful of keys. For the same reason its states leave the tables only a
// full compile reads to State.Pending (Load). When the store no longer has the changes (its history
// is bounded), the Loader reads everything, as the first time. Entities are
// shared between states, so nothing may modify them (Compile does not). A
// Loader is not safe for concurrent use.
type Loader struct {
	rev    int64 // of the last Load; tables are empty before the first
	tables []table
	// The tables the incremental compile asks (Lookup).
	services  *tableOf[model.Service]
	listeners *tableOf[model.Listener]
	rules     *tableOf[model.Rule]
	tgs       *tableOf[model.TargetGroup]
	targets   *tableOf[model.Target]
	policies  *tableOf[model.AuthPolicy]
	// deferred are the tables Load leaves to the state's Pending: those
	// only a full compile reads.
	deferred map[table]bool
	loads    int // counts the Loads: a state's Pending must run before the next
	// change is what the last Load read again, nil when it read
	// everything.
	change *snapshot.Change
	// Record makes Load keep the keys it read again (Delta), for the
	// local copy (Cache).
	Record bool
	delta  map[string]cacheValue // nil when the last Load read everything
	// Full counts the Loads that read everything (for tests).
	Full int
}

// table holds the entities under one prefix, in key order.
type table interface {
	prefix() string
	// scan reads every key of the prefix again.
	scan(tx store.ReadTx) error
	// apply reads one changed key again (deleted when absent) and
	// returns its value (nil when absent).
	apply(tx store.ReadTx, key string) ([]byte, error)
	// each calls fn with every entry's key and stored value.
	each(fn func(key string, raw []byte))
	// fill sets the table's field of st.
	fill(st *snapshot.State)
}

type entry[T any] struct {
	key string
	raw []byte
	v   *T
}

// chunkSize bounds a chunk of a table: inserting a key moves at most a
// chunk's entries, not the table's (100,000 targets in one slice made
// each RegisterTargets cost a 5 MB move).
var chunkSize = 512

// tableOf keeps its entries in key order in chunks of at most 2×chunkSize.
type tableOf[T any] struct {
	pfx    string
	field  func(*snapshot.State) *[]*T
	chunks [][]entry[T]
	n      int
	// filled is the slice the last fill made, given again while the
	// table did not change (changed): a state is read-only, and making
	// the 100,000-target slice anew for every snapshot was a tenth of the
	// CPU under writes at 10,000 services (issue 15).
	filled  []*T
	changed bool
}

func (t *tableOf[T]) prefix() string { return t.pfx }

func (t *tableOf[T]) decode(k string, b []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("snapshot: decode %s: %w", k, err)
	}
	return v, nil
}

func (t *tableOf[T]) scan(tx store.ReadTx) error {
	var old []entry[T]
	for _, c := range t.chunks {
		old = append(old, c...)
	}
	var chunks [][]entry[T]
	var cur []entry[T]
	n, i := 0, 0
	add := func(e entry[T]) {
		if len(cur) == chunkSize {
			chunks = append(chunks, cur)
			cur = nil
		}
		if cur == nil {
			cur = make([]entry[T], 0, chunkSize)
		}
		cur = append(cur, e)
		n++
	}
	err := tx.Scan(t.pfx, "", func(k string, b []byte) (bool, error) {
		// Both are in key order: walk the old entries alongside.
		for i < len(old) && old[i].key < k {
			i++
		}
		if i < len(old) && old[i].key == k && bytes.Equal(old[i].raw, b) {
			add(old[i])
			return true, nil
		}
		v, err := t.decode(k, b)
		if err != nil {
			return false, err
		}
		add(entry[T]{key: k, raw: b, v: v})
		return true, nil
	})
	if err != nil {
		return err
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}
	t.chunks, t.n, t.changed = chunks, n, true
	return nil
}

// find returns the chunk that holds k or would, and k's place in it.
func (t *tableOf[T]) find(k string) (ci, i int, found bool) {
	// The first chunk whose last key is >= k; past the end: the last.
	ci, _ = slices.BinarySearchFunc(t.chunks, k, func(c []entry[T], k string) int { return strings.Compare(c[len(c)-1].key, k) })
	if ci == len(t.chunks) {
		if ci == 0 {
			return 0, 0, false
		}
		ci--
	}
	i, found = slices.BinarySearchFunc(t.chunks[ci], k, func(e entry[T], k string) int { return strings.Compare(e.key, k) })
	return ci, i, found
}

func (t *tableOf[T]) each(fn func(string, []byte)) {
	for _, c := range t.chunks {
		for _, e := range c {
			fn(e.key, e.raw)
		}
	}
}

func (t *tableOf[T]) apply(tx store.ReadTx, k string) ([]byte, error) {
	b, ok, err := tx.Get(k)
	if err != nil {
		return nil, err
	}
	return b, t.put(k, b, ok)
}

// put sets k to b (ok) or deletes it (!ok).
func (t *tableOf[T]) put(k string, b []byte, ok bool) error {
	ci, i, found := t.find(k)
	switch {
	case !ok && found:
		t.changed = true
		t.chunks[ci] = slices.Delete(t.chunks[ci], i, i+1)
		t.n--
		if len(t.chunks[ci]) == 0 {
			t.chunks = slices.Delete(t.chunks, ci, ci+1)
		}
	case !ok:
	case found && bytes.Equal(t.chunks[ci][i].raw, b):
	default:
		v, err := t.decode(k, b)
		if err != nil {
			return err
		}
		e := entry[T]{key: k, raw: b, v: v}
		t.changed = true
		if found {
			t.chunks[ci][i] = e
			return nil
		}
		t.n++
		if len(t.chunks) == 0 {
			t.chunks = [][]entry[T]{{e}}
			return nil
		}
		c := slices.Insert(t.chunks[ci], i, e)
		if len(c) > 2*chunkSize {
			// Split; the halves get their own arrays so that appending to
			// the first never writes over the second.
			second := slices.Clone(c[chunkSize:])
			c = slices.Clip(c[:chunkSize])
			t.chunks = slices.Insert(t.chunks, ci+1, second)
		}
		t.chunks[ci] = c
	}
	return nil
}

func (t *tableOf[T]) fill(st *snapshot.State) {
	if !t.changed {
		*t.field(st) = t.filled
		return
	}
	var out []*T
	if t.n > 0 {
		out = make([]*T, 0, t.n)
		for _, c := range t.chunks {
			for _, e := range c {
				out = append(out, e.v)
			}
		}
	}
	*t.field(st) = out
	t.filled, t.changed = out, false
}

func tableFor[T any](prefix string, field func(*snapshot.State) *[]*T) table {
	return &tableOf[T]{pfx: prefix, field: field}
}

func (l *Loader) init() {
	l.services = &tableOf[model.Service]{pfx: schema.Service, field: func(s *snapshot.State) *[]*model.Service { return &s.Services }}
	l.listeners = &tableOf[model.Listener]{pfx: schema.Listener, field: func(s *snapshot.State) *[]*model.Listener { return &s.Listeners }}
	l.rules = &tableOf[model.Rule]{pfx: schema.Rule, field: func(s *snapshot.State) *[]*model.Rule { return &s.Rules }}
	l.tgs = &tableOf[model.TargetGroup]{pfx: schema.TargetGroup, field: func(s *snapshot.State) *[]*model.TargetGroup { return &s.TargetGroups }}
	l.targets = &tableOf[model.Target]{pfx: schema.Target, field: func(s *snapshot.State) *[]*model.Target { return &s.Targets }}
	l.policies = &tableOf[model.AuthPolicy]{pfx: schema.AuthPolicy, field: func(s *snapshot.State) *[]*model.AuthPolicy { return &s.AuthPolicies }}
	snsas := tableFor(schema.SNSA, func(s *snapshot.State) *[]*model.ServiceNetworkServiceAssociation { return &s.SNSAs })
	l.deferred = map[table]bool{l.services: true, l.listeners: true, l.rules: true, l.tgs: true, l.targets: true, snsas: true}
	l.tables = []table{
		tableFor(schema.ServiceNetwork, func(s *snapshot.State) *[]*model.ServiceNetwork { return &s.ServiceNetworks }),
		l.services, l.listeners, l.rules, l.tgs, l.targets,
		snsas,
		tableFor(schema.SNVA, func(s *snapshot.State) *[]*model.ServiceNetworkVpcAssociation { return &s.SNVAs }),
		l.policies,
		tableFor(schema.VPC, func(s *snapshot.State) *[]*model.VPC { return &s.VPCs }),
		tableFor(schema.Account, func(s *snapshot.State) *[]*model.Account { return &s.Accounts }),
		tableFor(schema.Principal, func(s *snapshot.State) *[]*model.Principal { return &s.Principals }),
		tableFor(schema.AccessKey, func(s *snapshot.State) *[]*model.AccessKey { return &s.AccessKeys }),
		tableFor(schema.ALS, func(s *snapshot.State) *[]*model.AccessLogSubscription { return &s.AccessLogs }),
		tableFor(schema.SecurityGroup, func(s *snapshot.State) *[]*model.SecurityGroup { return &s.SecurityGroups }),
		tableFor(schema.Certificate, func(s *snapshot.State) *[]*snapshot.StoredCertificate { return &s.Certificates }),
		tableFor(schema.Instance, func(s *snapshot.State) *[]*model.Instance { return &s.Instances }),
		tableFor(schema.LoadBalancer, func(s *snapshot.State) *[]*model.LoadBalancer { return &s.LoadBalancers }),
		// Resources: any change is Change.Other (classify), a full compile.
		tableFor(schema.ResourceGateway, func(s *snapshot.State) *[]*model.ResourceGateway { return &s.ResourceGateways }),
		tableFor(schema.ResourceConfiguration, func(s *snapshot.State) *[]*model.ResourceConfiguration { return &s.ResourceConfigurations }),
		tableFor(schema.SNRA, func(s *snapshot.State) *[]*model.ServiceNetworkResourceAssociation { return &s.SNRAs }),
		// Domain verifications decide which custom resource names a VPC
		// answers: a status change is Change.Other too.
		tableFor(schema.DomainVerification, func(s *snapshot.State) *[]*model.DomainVerification { return &s.DomainVerifications }),
	}
}

// Load reads the state from a consistent view of the store. The tables
// only a full compile reads (Services, Listeners, Rules, TargetGroups,
// Targets, SNSAs) are left to the state's Pending (snapshot.State): call
// st.Complete (Compile does) before the next Load to read them.
func (l *Loader) Load(tx store.ReadTx) (*snapshot.State, error) {
	if l.tables == nil {
		l.init()
	}
	l.loads++
	if err := l.read(tx); err != nil {
		l.rev = 0 // the tables may be half updated: read everything next time
		return nil, err
	}
	l.rev = tx.Revision()
	st := &snapshot.State{Revision: l.rev}
	for _, t := range l.tables {
		if !l.deferred[t] {
			t.fill(st)
		}
	}
	load := l.loads
	st.Pending = func(st *snapshot.State) {
		if l.loads != load {
			// The tables have moved on: filling now would mix two
			// revisions.
			panic("watch: a state completed after its Loader loaded again")
		}
		for _, t := range l.tables {
			if l.deferred[t] {
				t.fill(st)
			}
		}
	}
	return st, nil
}

func (l *Loader) read(tx store.ReadTx) error {
	l.change = nil
	if l.rev > 0 {
		seen := map[string]bool{}
		ch := &snapshot.Change{}
		var delta map[string]cacheValue
		if l.Record {
			delta = map[string]cacheValue{}
		}
		err := tx.Changes(l.rev, func(k string) error {
			if seen[k] {
				return nil
			}
			seen[k] = true
			if t := l.tableOf(k); t != nil {
				classify(ch, k)
				raw, err := t.apply(tx, k)
				if delta != nil {
					delta[k] = cacheValue{raw: raw, del: raw == nil}
				}
				return err
			}
			return nil
		})
		l.delta = delta
		if err == nil {
			l.change = ch
		}
		if !errors.Is(err, store.ErrCompacted) {
			return err
		}
	}
	l.Full++
	l.delta = nil
	for _, t := range l.tables {
		if err := t.scan(tx); err != nil {
			return err
		}
	}
	return nil
}

// batch is what the last Load read again, for the local copy: the changed
// keys, or every key when it read everything.
func (l *Loader) batch(at time.Time) *cacheBatch {
	b := &cacheBatch{rev: l.rev, at: at, puts: l.delta}
	if l.delta == nil {
		b.full = true
		b.puts = map[string]cacheValue{}
		for _, t := range l.tables {
			t.each(func(k string, raw []byte) { b.puts[k] = cacheValue{raw: raw} })
		}
	}
	l.delta = nil
	return b
}

// tableOf returns the table whose prefix k has, or nil (keys the snapshot
// does not read: names, tokens, indexes, counters).
func (l *Loader) tableOf(k string) table {
	for _, t := range l.tables {
		if strings.HasPrefix(k, t.prefix()) {
			return t
		}
	}
	return nil
}

// Change is what the last Load read again, for the incremental compile;
// nil when it read everything.
func (l *Loader) Change() *snapshot.Change { return l.change }

// classify adds a changed key of the snapshot's to ch.
func classify(ch *snapshot.Change, k string) {
	parent := func(p string) string { id, _, _ := strings.Cut(k[len(p):], "/"); return id }
	switch {
	case strings.HasPrefix(k, schema.Service):
		ch.Services = append(ch.Services, k[len(schema.Service):])
	case strings.HasPrefix(k, schema.Listener): // lst/<svc>/<listener>
		ch.Services = append(ch.Services, parent(schema.Listener))
	case strings.HasPrefix(k, schema.Rule): // rule/<listener>/<rule>
		ch.Listeners = append(ch.Listeners, parent(schema.Rule))
	case strings.HasPrefix(k, schema.TargetGroup):
		ch.TargetGroups = append(ch.TargetGroups, k[len(schema.TargetGroup):])
	case strings.HasPrefix(k, schema.Target): // tgt/<tg>/<id>/<port>
		ch.TargetGroups = append(ch.TargetGroups, parent(schema.Target))
	case strings.HasPrefix(k, schema.AuthPolicy):
		ch.Policies = append(ch.Policies, k[len(schema.AuthPolicy):])
	default:
		ch.Other = true
	}
}

// The Loader answers snapshot.Lookup from the state of its last Load.
var _ snapshot.Lookup = (*Loader)(nil)

// Service implements snapshot.Lookup.
func (l *Loader) Service(id string) *model.Service { return l.services.get(schema.Service + id) }

// Listeners implements snapshot.Lookup.
func (l *Loader) Listeners(svc string) []*model.Listener {
	return l.listeners.within(schema.Listener + svc + "/")
}

// Rules implements snapshot.Lookup.
func (l *Loader) Rules(listener string) []*model.Rule {
	return l.rules.within(schema.Rule + listener + "/")
}

// TargetGroup implements snapshot.Lookup.
func (l *Loader) TargetGroup(id string) *model.TargetGroup { return l.tgs.get(schema.TargetGroup + id) }

// Targets implements snapshot.Lookup.
func (l *Loader) Targets(tg string) []*model.Target {
	return l.targets.within(schema.Target + tg + "/")
}

// AuthPolicy implements snapshot.Lookup.
func (l *Loader) AuthPolicy(owner string) *model.AuthPolicy {
	return l.policies.get(schema.AuthPolicy + owner)
}

func (t *tableOf[T]) get(k string) *T {
	if len(t.chunks) == 0 {
		return nil
	}
	ci, i, found := t.find(k)
	if !found {
		return nil
	}
	return t.chunks[ci][i].v
}

// within returns the values of the keys with prefix p, in key order.
func (t *tableOf[T]) within(p string) []*T {
	if len(t.chunks) == 0 {
		return nil
	}
	var out []*T
	ci, i, _ := t.find(p)
	for ; ci < len(t.chunks); ci, i = ci+1, 0 {
		for ; i < len(t.chunks[ci]); i++ {
			if !strings.HasPrefix(t.chunks[ci][i].key, p) {
				return out
			}
			out = append(out, t.chunks[ci][i].v)
		}
	}
	return out
}
