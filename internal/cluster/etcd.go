package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"google.golang.org/grpc/connectivity"
)

// DefaultTTL is the default lease TTL: how long a dead node's statuses
// and elections outlive it.
const DefaultTTL = 10 * time.Second

// DefaultFlushInterval is how often a node publishes its status changes at
// most.
const DefaultFlushInterval = 500 * time.Millisecond

// NodeInfo is a node's registration, the value of <prefix>nodes/<name>.
type NodeInfo struct {
	Name  string `json:"name"`
	Roles string `json:"roles"`
	// Address is the node's API address, "" for a node without the api
	// role.
	Address   string    `json:"address,omitempty"`
	StartedAt time.Time `json:"startedAt"`
	Version   string    `json:"version,omitempty"`
}

// Source is what a health node publishes: its own checker's view of the
// targets of the current snapshot. Keys are the data plane's registry keys,
// "<tg>/<target>/<port>".
type Source interface {
	// GroupStatuses calls fn for every target of the target group that
	// this node reports (status as ListTargets names it, reason code); it
	// returns false when the group is not in the snapshot.
	GroupStatuses(tgID string, fn func(key, status, reason string)) bool
	// TargetStatus is one target's status; ok=false when it is not
	// reported.
	TargetStatus(key string) (status, reason string, ok bool)
}

// Config configures an Etcd node.
type Config struct {
	// Client is the store's etcd client, shared. Required.
	Client *clientv3.Client
	// Prefix is the installation's key prefix (the store's, e.g.
	// /trellis/). Required.
	Prefix string
	// Node is this node's registration; Node.Name is required, Roles is
	// filled from Roles.
	Node  NodeInfo
	Roles Roles
	// TTL is the lease's time to live, in whole seconds (default
	// DefaultTTL; at least one second).
	TTL time.Duration
	// FlushInterval is how often status changes are published at most
	// (default DefaultFlushInterval).
	FlushInterval time.Duration
	// Source is what this node publishes; nil publishes nothing (a node
	// without the health role).
	Source Source
	// OnChange is told the keys of targets whose combined status may have
	// changed, from the watch's goroutine (it must not block long); nil
	// tells nothing.
	OnChange func(keys []string)
	Logger   *slog.Logger
	// Background joins in the background from the start, without a first
	// try in Open (etcd is known to be away; the node starts from its
	// local snapshot copy and must not wait for it).
	Background bool
}

// Etcd is a node of a cluster that shares an etcd. Its methods are safe for
// concurrent use.
type Etcd struct {
	cfg    Config
	log    *slog.Logger
	cli    *clientv3.Client
	ttl    int
	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   atomic.Bool // Close or Abandon began: a lost session is not replaced
	// abandoned: Abandon began; nothing is resigned or revoked, as after
	// a crash.
	abandoned atomic.Bool

	smu     sync.Mutex
	sess    *concurrency.Session
	newSess chan struct{} // closed when sess is replaced

	pub     publisher
	view    *View
	leading leaders
}

var _ Cluster = (*Etcd)(nil)

func (e *Etcd) nodeKey() string     { return e.cfg.Prefix + "nodes/" + e.cfg.Node.Name }
func (e *Etcd) nodesPrefix() string { return e.cfg.Prefix + "nodes/" }
func (e *Etcd) healthPrefix() string {
	return e.cfg.Prefix + "health/"
}

// Open joins the cluster: it takes a lease, registers the node (waiting up
// to the TTL for a previous instance of the same name, dead, to expire),
// reads every node's statuses and then follows them, and publishes this
// node's.
func Open(ctx context.Context, cfg Config) (*Etcd, error) {
	if cfg.Client == nil || cfg.Prefix == "" {
		return nil, errors.New("cluster: Config.Client and Prefix are required")
	}
	if !validName(cfg.Node.Name) {
		return nil, fmt.Errorf("cluster: node name %q: want 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit (--node-name)", printable(cfg.Node.Name))
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Node.Roles = cfg.Roles.String()
	e := &Etcd{cfg: cfg, log: cfg.Logger.With("component", "cluster", "node", cfg.Node.Name), cli: cfg.Client,
		ttl: max(1, int(cfg.TTL/time.Second)), newSess: make(chan struct{})}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.view = newView(cfg.Prefix, cfg.OnChange)
	e.pub.init(e)
	// A node starts whether or not etcd answers (a data plane keeps
	// serving what it has, static stability): unreachable, it joins in
	// the background. A name held by a live node is refused at once.
	var s *concurrency.Session
	err := errors.New("etcd away at start")
	if !cfg.Background {
		s, err = e.join(ctx)
	}
	switch {
	case errors.Is(err, errNameTaken):
		e.cancel()
		return nil, err
	case err != nil:
		e.log.Warn("cluster: etcd unreachable; joining in the background", "err", err)
	default:
		e.sess = s
		e.log.Info("cluster: joined", "roles", cfg.Node.Roles, "lease", fmt.Sprintf("%x", int64(s.Lease())), "ttl", e.ttl)
	}
	var rev int64 // 0: follow reads everything (again)
	if e.sess != nil {
		rctx, cancel := context.WithTimeout(ctx, callTimeout)
		if r, err := e.view.reload(rctx, e.cli); err == nil {
			rev = r
		}
		cancel()
	}
	e.wg.Add(2)
	go func() { defer e.wg.Done(); e.keep() }()
	go func() { defer e.wg.Done(); e.view.follow(e.ctx, e.cli, e.log, rev) }()
	if cfg.Source != nil {
		e.wg.Add(1)
		go func() { defer e.wg.Done(); e.pub.run(e.ctx) }()
	}
	return e, nil
}

// callTimeout bounds each of the cluster's own calls to etcd (a grant, a
// registration attempt, the first read), so that an unreachable etcd
// delays a start by that much, not forever.
const callTimeout = 5 * time.Second

// errNameTaken: another live node has this node's name.
var errNameTaken = errors.New("in use by a live node (every node needs its own --node-name)")

// join makes a session and registers the node under its lease.
func (e *Etcd) join(ctx context.Context) (*concurrency.Session, error) {
	gctx, cancel := context.WithTimeout(ctx, callTimeout)
	lease, err := e.cli.Grant(gctx, int64(e.ttl))
	cancel()
	if err != nil {
		return nil, fmt.Errorf("cluster: etcd lease: %w", err)
	}
	// The session keeps the lease alive until e.ctx ends (or Close
	// revokes it).
	s, err := concurrency.NewSession(e.cli, concurrency.WithLease(lease.ID), concurrency.WithTTL(e.ttl), concurrency.WithContext(e.ctx))
	if err != nil {
		return nil, fmt.Errorf("cluster: etcd lease: %w", err)
	}
	if err := e.register(ctx, s); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// register puts the node's key under s's lease. A key of the same name
// under another lease is another node of that name: a dead one's goes
// within the TTL, so register waits that long before it gives up (node
// names must be unique; the error says so).
func (e *Etcd) register(ctx context.Context, s *concurrency.Session) error {
	info := e.cfg.Node
	if info.StartedAt.IsZero() {
		info.StartedAt = time.Now().UTC()
	}
	val, err := json.Marshal(info)
	if err != nil {
		return err
	}
	key := e.nodeKey()
	deadline := time.Now().Add(time.Duration(e.ttl)*time.Second + 2*time.Second)
	for {
		tctx, cancel := context.WithTimeout(ctx, callTimeout)
		resp, err := e.cli.Txn(tctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, string(val), clientv3.WithLease(s.Lease()))).
			Else(clientv3.OpGet(key)).Commit()
		cancel()
		if err != nil {
			return fmt.Errorf("cluster: register node %s: %w", e.cfg.Node.Name, err)
		}
		if resp.Succeeded {
			return nil
		}
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 1 && clientv3.LeaseID(kvs[0].Lease) == s.Lease() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: node name %q: %w", e.cfg.Node.Name, errNameTaken)
		}
		if !sleep(ctx, 250*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// keep replaces the session when its lease is lost (etcd unreachable for
// longer than the TTL): a new lease, the registration again, and every
// status published again under it.
func (e *Etcd) keep() {
	for {
		if s := e.session(); s != nil {
			select {
			case <-e.ctx.Done():
				return
			case <-s.Done():
			}
			if e.done.Load() {
				return
			}
			e.log.Warn("cluster: etcd lease lost (etcd unreachable for longer than the TTL?); joining again")
		}
		for {
			ns, err := e.join(e.ctx)
			if err == nil {
				e.smu.Lock()
				e.sess = ns
				close(e.newSess)
				e.newSess = make(chan struct{})
				e.smu.Unlock()
				e.pub.republishAll()
				e.log.Info("cluster: joined again", "lease", fmt.Sprintf("%x", int64(ns.Lease())))
				break
			}
			if e.ctx.Err() != nil || e.done.Load() {
				return
			}
			e.log.Warn("cluster: joining failed; retrying", "err", err)
			if !sleep(e.ctx, retryAfter) {
				return
			}
		}
	}
}

// session is the current session.
func (e *Etcd) session() *concurrency.Session {
	e.smu.Lock()
	defer e.smu.Unlock()
	return e.sess
}

// Node is this node's name.
func (e *Etcd) Node() string { return e.cfg.Node.Name }

// Leading reports whether this node runs the work of the election called
// name now.
func (e *Etcd) Leading(name string) bool { return e.leading.get(name) }

// NodesByRole counts the registered nodes by role, from the view.
func (e *Etcd) NodesByRole() map[string]int {
	out := map[string]int{RoleAPI: 0, RoleDataplane: 0, RoleHealth: 0}
	for _, n := range e.view.Nodes() {
		r, err := ParseRoles(n.Roles)
		if err != nil {
			continue
		}
		if r.API {
			out[RoleAPI]++
		}
		if r.Dataplane {
			out[RoleDataplane]++
		}
		if r.Health {
			out[RoleHealth]++
		}
	}
	return out
}

// View is the combined view of every node's statuses.
func (e *Etcd) View() *View { return e.view }

// MarkTarget tells the publisher that a target's status (registry key) may
// have changed; it is looked at in the next flush. It never blocks.
func (e *Etcd) MarkTarget(key string) { e.pub.markTarget(key) }

// MarkGroups tells the publisher that the targets of these groups may have
// changed (come, gone, another status); they are looked at in the next
// flush. It never blocks.
func (e *Etcd) MarkGroups(ids []string) { e.pub.markGroups(ids) }

// Lead stands in the election under <prefix>elections/<name> (etcd's
// concurrency.Election, with this node's lease): run is called when this
// node is elected, and its context ends when the lease is lost or ctx
// ends. On return from run the node resigns, so that a node that closes
// hands the election over at once rather than after the TTL.
func (e *Etcd) Lead(ctx context.Context, name string, run func(ctx context.Context)) {
	for ctx.Err() == nil && e.ctx.Err() == nil {
		e.smu.Lock()
		s, ch := e.sess, e.newSess
		e.smu.Unlock()
		lost := s == nil
		if !lost {
			select {
			case <-s.Done():
				lost = true
			default:
			}
		}
		if lost {
			// Not joined yet, or the lease was lost: wait for keep.
			select {
			case <-ctx.Done():
				return
			case <-e.ctx.Done():
				return
			case <-ch:
			}
			continue
		}
		lctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(e.ctx, cancel)
		go func() {
			select {
			case <-s.Done():
				cancel()
			case <-lctx.Done():
			}
		}()
		el, err := e.campaign(lctx, s, e.cfg.Prefix+"elections/"+name+"/")
		if err == nil && !e.holds(lctx, el, s) {
			err = errors.New("lease lost while campaigning")
		}
		if err != nil {
			cancel()
			stop()
			if el != nil {
				// Elected, but the check failed (the lease went, or ctx
				// ended meanwhile): withdraw, so that the next candidate
				// need not wait out the TTL (skipped if the lease went).
				_ = e.tidy(context.Background(), s, func(ctx context.Context) error { return el.Resign(ctx) })
			}
			if ctx.Err() != nil || e.ctx.Err() != nil {
				return
			}
			e.log.Debug("cluster: campaign", "election", name, "err", err)
			if !sleep(ctx, retryAfter) {
				return
			}
			continue
		}
		e.log.Info("cluster: elected", "election", name)
		e.leading.set(name, true)
		run(lctx)
		e.leading.set(name, false)
		leader := lctx.Err() == nil
		cancel()
		stop()
		if e.abandoned.Load() {
			return
		}
		_ = e.tidy(context.Background(), s, func(ctx context.Context) error { return el.Resign(ctx) })
		e.log.Info("cluster: no longer the leader", "election", name)
		if leader && !sleep(ctx, retryAfter) {
			return
		}
	}
}

// holds reports whether the campaign's key is still this lease's: a lease
// that expired while Campaign waited for the previous leader takes the key
// with it, and Campaign would still return.
func (e *Etcd) holds(ctx context.Context, el *concurrency.Election, s *concurrency.Session) bool {
	resp, err := e.cli.Get(ctx, el.Key())
	return err == nil && len(resp.Kvs) == 1 && clientv3.LeaseID(resp.Kvs[0].Lease) == s.Lease()
}

// campaign stands in the election whose keys are under pfx (etcd's
// election recipe, as concurrency.Election.Campaign: a key under the lease,
// then wait until every key created before it is deleted) and returns the
// election once this node leads it. Unlike Campaign, a campaign whose ctx
// ends withdraws within tidyTimeout, or not at all when etcd is away (the
// key goes with the lease): Campaign withdraws with the client's context,
// unbounded, which held a node that closed while etcd was away until etcd
// came back.
func (e *Etcd) campaign(ctx context.Context, s *concurrency.Session, pfx string) (*concurrency.Election, error) {
	key := fmt.Sprintf("%s%x", pfx, s.Lease())
	resp, err := e.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, e.cfg.Node.Name, clientv3.WithLease(s.Lease()))).
		Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return nil, err
	}
	rev := resp.Header.Revision
	if !resp.Succeeded {
		// This lease's key from an earlier campaign: its place stands.
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) != 1 {
			return nil, errors.New("campaign key vanished")
		}
		rev = kvs[0].CreateRevision
	}
	if err := e.waitPredecessors(ctx, pfx, rev-1); err != nil {
		_ = e.tidy(context.Background(), s, func(ctx context.Context) error {
			_, err := e.cli.Delete(ctx, key)
			return err
		})
		return nil, err
	}
	return concurrency.ResumeElection(s, pfx, key, rev), nil
}

// waitPredecessors returns when no key under pfx created at or before
// maxRev is left: the candidates ahead of this one have resigned or lost
// their leases.
func (e *Etcd) waitPredecessors(ctx context.Context, pfx string, maxRev int64) error {
	for {
		resp, err := e.cli.Get(ctx, pfx, clientv3.WithPrefix(), clientv3.WithMaxCreateRev(maxRev),
			clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortDescend), clientv3.WithLimit(1))
		if err != nil {
			return err
		}
		if len(resp.Kvs) == 0 {
			return nil
		}
		if err := e.waitDeleted(ctx, string(resp.Kvs[0].Key), resp.Header.Revision); err != nil {
			return err
		}
	}
}

// waitDeleted returns when key is deleted after rev.
func (e *Etcd) waitDeleted(ctx context.Context, key string, rev int64) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var last clientv3.WatchResponse
	for last = range e.cli.Watch(wctx, key, clientv3.WithRev(rev)) {
		for _, ev := range last.Events {
			if ev.Type == clientv3.EventTypeDelete {
				return nil
			}
		}
	}
	if err := last.Err(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.New("watch ended waiting for a candidate's key to go")
}

// tidyTimeout bounds each call that only tidies etcd on the way out
// (revoking the lease, resigning, withdrawing a candidacy): what it
// deletes is under the node's lease, so etcd deletes it anyway within the
// TTL, and a node that stops must not wait longer for it.
const tidyTimeout = time.Second

// tidy runs a tidying call bounded by tidyTimeout and ctx; it skips it at
// once when etcd is known away or s's lease is already lost (nothing left
// to tidy: the keys went with it).
func (e *Etcd) tidy(ctx context.Context, s *concurrency.Session, call func(ctx context.Context) error) error {
	if s != nil {
		select {
		case <-s.Done():
			return nil
		default:
		}
	}
	if !e.reachable() {
		return errUnreachable
	}
	tctx, cancel := context.WithTimeout(ctx, tidyTimeout)
	defer cancel()
	return call(tctx)
}

// errUnreachable: a tidying call skipped, etcd being away.
var errUnreachable = errors.New("etcd unreachable: left to expire with the lease")

// reachable reports whether the client holds a ready connection to an etcd
// member: when it does not (every endpoint down, or reconnecting after an
// outage), a call would wait for one (etcd's client calls wait for ready)
// until its deadline.
func (e *Etcd) reachable() bool {
	conn := e.cli.ActiveConnection()
	return conn != nil && conn.GetState() == connectivity.Ready
}

// Close leaves the cluster: it stops publishing and following, then
// revokes the lease, so this node's registration, statuses and candidacies
// are deleted at once. The revocation only tidies (the keys expire with the
// lease after the TTL anyway): it is bounded by ctx and tidyTimeout, and
// skipped at once when etcd is away, so that a node stops promptly during
// an outage; its keys then go after the TTL (docs/etcd.md). Leads should
// have returned first (their resignations are then already done).
func (e *Etcd) Close(ctx context.Context) error {
	if e.done.Swap(true) {
		return nil
	}
	s := e.session()
	lost := true
	if s != nil {
		select {
		case <-s.Done():
		default:
			lost = false
		}
	}
	// Stops the session's keepalives (its context is e.ctx), the
	// publisher (a flush in flight is abandoned: the statuses it would
	// write go with the lease), the watch and a join in progress.
	e.cancel()
	e.wg.Wait()
	if s == nil || lost {
		return nil
	}
	s.Orphan()
	err := e.tidy(ctx, nil, func(ctx context.Context) error {
		_, err := e.cli.Revoke(ctx, s.Lease())
		return err
	})
	if err != nil {
		e.log.Warn("cluster: lease not revoked; this node's keys expire after the TTL", "err", err, "ttl", e.ttl)
	}
	return nil
}

// Abandon leaves as a node that died would: it stops renewing the lease
// without revoking it, so its keys stay until the TTL has passed. For tests
// (the failover of a node that crashed).
func (e *Etcd) Abandon() {
	e.abandoned.Store(true)
	if e.done.Swap(true) {
		return
	}
	if s := e.session(); s != nil {
		s.Orphan()
	}
	e.cancel()
	e.wg.Wait()
}

// validName reports whether a node name is what --node-name accepts: it is
// a segment of etcd keys (<prefix>health/<name>/...), so never a '/'.
func validName(n string) bool {
	if n == "" || len(n) > 63 {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}
