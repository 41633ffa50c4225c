package cluster

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Cluster is what a node shares with the other nodes of its installation
// besides the store.
type Cluster interface {
	// Node is this node's name (serve --node-name).
	Node() string
	// Lead stands this node in the election called name and calls run
	// each time it is elected, with a context that ends when it stops
	// being the leader (its lease was lost) or ctx ends; Lead returns when
	// ctx ends, after run returned. run must return when its context ends.
	// If run returns while still leader, the node resigns and stands again
	// a moment later (so a failing start is retried, perhaps elsewhere).
	Lead(ctx context.Context, name string, run func(ctx context.Context))
	// Leading reports whether this node runs the work of the election
	// called name now.
	Leading(name string) bool
	// NodesByRole counts the live nodes by role (every node of the
	// installation, this one included).
	NodesByRole() map[string]int
	// Close leaves the cluster: an Etcd node revokes its lease, so its
	// registration, statuses and candidacies go at once (bounded by ctx;
	// skipped when etcd is away: they then expire with the lease).
	Close(ctx context.Context) error
}

// Election names.
const (
	// ElectionCanaries elects the node that judges canary steps
	// (internal/canary).
	ElectionCanaries = "canaries"
	// ElectionSweeper elects the node that deletes targets whose drain
	// time has passed.
	ElectionSweeper = "drained-targets"
)

// retryAfter is how long a candidate whose run returned while leader, or
// whose campaign failed, waits before it stands again.
var retryAfter = time.Second

// Local is the Cluster of one node on the embedded store: always the
// leader, nothing shared.
type Local struct {
	Name   string
	Logger *slog.Logger

	leading leaders
}

var _ Cluster = (*Local)(nil)

// Node is the node's name.
func (l *Local) Node() string { return l.Name }

// Lead runs run at once (a single node is every election's leader), again
// after retryAfter if it returns early, until ctx ends.
func (l *Local) Lead(ctx context.Context, name string, run func(ctx context.Context)) {
	for ctx.Err() == nil {
		l.leading.set(name, true)
		run(ctx)
		l.leading.set(name, false)
		if !sleep(ctx, retryAfter) {
			return
		}
	}
}

// Leading reports whether a Lead of name runs its work now.
func (l *Local) Leading(name string) bool { return l.leading.get(name) }

// NodesByRole is this node, in every role.
func (l *Local) NodesByRole() map[string]int {
	return map[string]int{RoleAPI: 1, RoleDataplane: 1, RoleHealth: 1}
}

// Close does nothing.
func (l *Local) Close(context.Context) error { return nil }

// leaders records which elections a node leads.
type leaders struct {
	mu sync.Mutex
	m  map[string]bool
}

func (l *leaders) set(name string, on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]bool{}
	}
	l.m[name] = on
}

func (l *leaders) get(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m[name]
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
