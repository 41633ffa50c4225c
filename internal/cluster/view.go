package cluster

import (
	"cmp"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/trellis-net/trellis/internal/model"
)

// Report is one node's status of one target.
type Report struct {
	Node string `json:"node"`
	Status
}

// View is the combined view of the statuses every node publishes, kept in
// memory by a watch on <prefix>health/ and <prefix>nodes/: ListTargets
// reads it without a round trip to etcd.
type View struct {
	healthPfx, nodesPfx string
	onChange            func(keys []string)

	mu sync.RWMutex
	// reports by target group, then target key ("<tg>/<target>/<port>"),
	// then node.
	reports map[string]map[string]map[string]Status
	nodes   map[string]NodeInfo
	health  int // registered nodes with the health role
}

func newView(prefix string, onChange func([]string)) *View {
	return &View{healthPfx: prefix + "health/", nodesPfx: prefix + "nodes/", onChange: onChange,
		reports: map[string]map[string]map[string]Status{}, nodes: map[string]NodeInfo{}}
}

// Combine is the rule of ListTargets' status across nodes
// (docs/etcd.md, "Health across nodes"), given the reports of the nodes
// that check a target and how many nodes with the health role are
// registered:
//   - no report: INITIAL when some health node lives (its first check is
//     pending), else UNAVAILABLE (nobody checks);
//   - UNHEALTHY when any node says UNHEALTHY, with the reason code of the
//     first such node by name: a target one node cannot reach is not fit
//     for the nodes that route like it;
//   - else INITIAL when any says INITIAL (a check is still to come);
//   - else HEALTHY when any says HEALTHY (the others, if any, say
//     UNAVAILABLE: they cannot check it, which says nothing against it);
//   - else UNAVAILABLE.
//
// The second result names the node whose report decided, "" when none did.
func Combine(reports []Report, healthNodes int) (status, reason, node string) {
	if len(reports) == 0 {
		if healthNodes > 0 {
			return model.TargetStatusInitial, "", ""
		}
		return model.TargetStatusUnavailable, "", ""
	}
	rank := func(s string) int {
		switch s {
		case model.TargetStatusUnhealthy:
			return 0
		case model.TargetStatusInitial:
			return 1
		case model.TargetStatusHealthy:
			return 2
		}
		return 3
	}
	best := -1
	for i, r := range reports {
		if best < 0 || rank(r.Status.Status) < rank(reports[best].Status.Status) ||
			(rank(r.Status.Status) == rank(reports[best].Status.Status) && r.Node < reports[best].Node) {
			best = i
		}
	}
	r := reports[best]
	st := r.Status.Status
	if rank(st) == 3 {
		st = model.TargetStatusUnavailable
	}
	return st, r.ReasonCode, r.Node
}

// TargetStatus is the combined status of a target (service.TargetHealth).
func (v *View) TargetStatus(targetGroupID, targetID string, port int) (status, reason string, ok bool) {
	key := targetGroupID + "/" + targetID + "/" + strconv.Itoa(port)
	st, r, _ := v.Combined(key)
	return st, r, true
}

// Combined is the combined status of the target of a registry key, and
// the node whose report decided it ("" when none did).
func (v *View) Combined(key string) (status, reason, node string) {
	g, _, _ := strings.Cut(key, "/")
	var buf [4]Report
	reports := buf[:0]
	v.mu.RLock()
	for n, st := range v.reports[g][key] {
		reports = append(reports, Report{Node: n, Status: st})
	}
	health := v.health
	v.mu.RUnlock()
	return Combine(reports, health)
}

// GroupReports returns every node's reports of the targets of a target
// group, by target key, each sorted by node.
func (v *View) GroupReports(targetGroupID string) map[string][]Report {
	out := map[string][]Report{}
	v.mu.RLock()
	for key, byNode := range v.reports[targetGroupID] {
		rs := make([]Report, 0, len(byNode))
		for n, st := range byNode {
			rs = append(rs, Report{Node: n, Status: st})
		}
		slices.SortFunc(rs, func(a, b Report) int { return cmp.Compare(a.Node, b.Node) })
		out[key] = rs
	}
	v.mu.RUnlock()
	return out
}

// Nodes returns the registered (live) nodes, sorted by name.
func (v *View) Nodes() []NodeInfo {
	v.mu.RLock()
	out := make([]NodeInfo, 0, len(v.nodes))
	for _, n := range v.nodes {
		out = append(out, n)
	}
	v.mu.RUnlock()
	slices.SortFunc(out, func(a, b NodeInfo) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// HealthNodes is how many registered nodes have the health role.
func (v *View) HealthNodes() int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.health
}

// reload reads every status and node and replaces what the view holds;
// it returns etcd's revision of the read.
func (v *View) reload(ctx context.Context, cli *clientv3.Client) (int64, error) {
	hr, err := cli.Get(ctx, v.healthPfx, clientv3.WithPrefix())
	if err != nil {
		return 0, err
	}
	rev := hr.Header.Revision
	nr, err := cli.Get(ctx, v.nodesPfx, clientv3.WithPrefix(), clientv3.WithRev(rev))
	if err != nil {
		return 0, err
	}
	reports := map[string]map[string]map[string]Status{}
	for _, kv := range hr.Kvs {
		node, g, key, ok := v.parse(kv.Key)
		if !ok {
			continue
		}
		var st Status
		if json.Unmarshal(kv.Value, &st) != nil || !validStatus(st) {
			continue
		}
		put(reports, node, g, key, st)
	}
	nodes := map[string]NodeInfo{}
	for _, kv := range nr.Kvs {
		var n NodeInfo
		if json.Unmarshal(kv.Value, &n) == nil {
			nodes[strings.TrimPrefix(string(kv.Key), v.nodesPfx)] = n
		}
	}
	v.mu.Lock()
	var changed []string
	if v.onChange != nil {
		for _, m := range []map[string]map[string]map[string]Status{v.reports, reports} {
			for _, keys := range m {
				for key := range keys {
					changed = append(changed, key)
				}
			}
		}
	}
	v.reports, v.nodes = reports, nodes
	v.health = countHealth(nodes)
	v.mu.Unlock()
	if len(changed) > 0 {
		v.onChange(changed)
	}
	return rev, nil
}

// validStatus reports whether a published status is one this version
// writes: a known status and a reason code of at most 64 letters, digits
// and '.'. Anything else (a newer node's, a hand-written key) is ignored
// rather than shown by ListTargets or written into a log line.
func validStatus(st Status) bool {
	switch st.Status {
	case model.TargetStatusHealthy, model.TargetStatusUnhealthy, model.TargetStatusInitial, model.TargetStatusUnavailable:
	default:
		return false
	}
	if len(st.ReasonCode) > 64 {
		return false
	}
	for i := 0; i < len(st.ReasonCode); i++ {
		c := st.ReasonCode[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.') {
			return false
		}
	}
	return true
}

func countHealth(nodes map[string]NodeInfo) int {
	n := 0
	for _, info := range nodes {
		if r, err := ParseRoles(info.Roles); err == nil && r.Health {
			n++
		}
	}
	return n
}

func put(m map[string]map[string]map[string]Status, node, g, key string, st Status) {
	keys := m[g]
	if keys == nil {
		keys = map[string]map[string]Status{}
		m[g] = keys
	}
	byNode := keys[key]
	if byNode == nil {
		byNode = map[string]Status{}
		keys[key] = byNode
	}
	byNode[node] = st
}

func deleteReport(m map[string]map[string]map[string]Status, node, g, key string) {
	byNode := m[g][key]
	if byNode == nil {
		return
	}
	delete(byNode, node)
	if len(byNode) == 0 {
		delete(m[g], key)
		if len(m[g]) == 0 {
			delete(m, g)
		}
	}
}

// parse splits <prefix>health/<node>/<tg>/<target>/<port> into the node,
// the target group and the target key "<tg>/<target>/<port>". A target ID
// may hold '/' (an ARN): the group is the first segment, the port the
// last.
func (v *View) parse(k []byte) (node, g, key string, ok bool) {
	rest, ok := strings.CutPrefix(string(k), v.healthPfx)
	if !ok {
		return "", "", "", false
	}
	node, key, ok = strings.Cut(rest, "/")
	if !ok || !validName(node) {
		return "", "", "", false
	}
	g, tail, ok := strings.Cut(key, "/")
	if !ok || g == "" || strings.LastIndexByte(tail, '/') <= 0 {
		return "", "", "", false
	}
	return node, g, key, true
}

// follow keeps the view current: a watch on both prefixes from the
// revision of the last load; when it breaks (etcd compacted past it, the
// member lost its leader, the connection failed) the view is loaded again
// and watched from there.
func (v *View) follow(ctx context.Context, cli *clientv3.Client, log *slog.Logger, rev int64) {
	var err error
	for ctx.Err() == nil {
		if rev == 0 {
			if rev, err = v.reload(ctx, cli); err != nil {
				if ctx.Err() == nil {
					log.Warn("cluster: reading the nodes' statuses failed; retrying", "err", err)
				}
				rev = 0
				if !sleep(ctx, retryAfter) {
					return
				}
				continue
			}
		}
		rev = v.watch(ctx, cli, rev)
	}
}

// watch applies events after rev until the watch breaks; it returns 0 to
// have the view loaded again.
func (v *View) watch(ctx context.Context, cli *clientv3.Client, rev int64) int64 {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	hw := cli.Watch(wctx, v.healthPfx, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	nw := cli.Watch(wctx, v.nodesPfx, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	for {
		var resp clientv3.WatchResponse
		var ok bool
		select {
		case <-ctx.Done():
			return rev
		case resp, ok = <-hw:
		case resp, ok = <-nw:
		}
		if !ok || resp.Err() != nil || resp.Canceled {
			if ctx.Err() == nil {
				// Brief pause: a member without a leader answers at once.
				sleep(ctx, 200*time.Millisecond)
			}
			return 0
		}
		v.apply(resp.Events)
	}
}

func (v *View) apply(events []*clientv3.Event) {
	var changed []string
	v.mu.Lock()
	nodesChanged := false
	for _, ev := range events {
		k := ev.Kv.Key
		if name, ok := strings.CutPrefix(string(k), v.nodesPfx); ok {
			nodesChanged = true
			if ev.Type == mvccpb.DELETE {
				delete(v.nodes, name)
				continue
			}
			var n NodeInfo
			if json.Unmarshal(ev.Kv.Value, &n) == nil {
				v.nodes[name] = n
			}
			continue
		}
		node, g, key, ok := v.parse(k)
		if !ok {
			continue
		}
		changed = append(changed, key)
		if ev.Type == mvccpb.DELETE {
			deleteReport(v.reports, node, g, key)
			continue
		}
		var st Status
		if json.Unmarshal(ev.Kv.Value, &st) != nil || !validStatus(st) {
			deleteReport(v.reports, node, g, key)
			continue
		}
		put(v.reports, node, g, key, st)
	}
	if nodesChanged {
		v.health = countHealth(v.nodes)
	}
	v.mu.Unlock()
	if len(changed) > 0 && v.onChange != nil {
		v.onChange(changed)
	}
}
