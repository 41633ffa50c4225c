package app_test

import (
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/cluster"
)

// TestCloseWithEtcdAway: SIGTERM's Close on etcd nodes is bounded by the
// shutdown timeout when etcd is away, and when it just came back (the
// nodes' clients still reconnecting): what only tidies etcd (revoking the
// lease, resigning, withdrawing a candidacy) is bounded and skipped while
// etcd is away. The nodes' keys are gone once etcd is back, at the latest
// after the lease TTL (docs/etcd.md "Stopping a node").
func TestCloseWithEtcdAway(t *testing.T) {
	const shutdown, ttl = 2 * time.Second, 5 * time.Second
	for _, tc := range []struct {
		name    string
		restart bool // etcd is back when the nodes close
	}{{"stopped", false}, {"restarted", true}} {
		t.Run(tc.name, func(t *testing.T) {
			n := newNodes(t)
			opts := func(name string, roles cluster.Roles) apptest.Options {
				o := n.options(name, roles)
				o.ClusterTTL, o.ShutdownTimeout = ttl, shutdown
				return o
			}
			// Two API nodes: one leads the elections, the other waits in
			// its campaigns.
			a := apptest.StartWith(t, opts("node-a", cluster.AllRoles))
			b := apptest.StartWith(t, opts("node-b", cluster.Roles{API: true}))
			cli := etcdClient(t, n)
			keys := func(prefix string) int {
				r, err := cli.Get(ctx, "/trellis/"+prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
				if err != nil {
					return -1
				}
				return int(r.Count)
			}
			eventually(t, 10*time.Second, "both nodes registered and standing in every election", func() bool {
				return keys("nodes/") == 2 && keys("elections/"+cluster.ElectionSweeper+"/") == 2 &&
					keys("elections/"+cluster.ElectionCanaries+"/") == 2
			})

			n.c.Members[0].Stop()
			time.Sleep(time.Second)
			if tc.restart {
				n.c.Members[0].Restart(t)
			}
			for _, s := range []*apptest.Server{b, a} {
				start := time.Now()
				err := s.App.Close()
				if d := time.Since(start); d > shutdown+3*time.Second {
					t.Fatalf("Close took %v with shutdown timeout %v (err %v)", d, shutdown, err)
				}
				if err != nil {
					t.Fatalf("Close: %v", err)
				}
			}

			if !tc.restart {
				n.c.Members[0].Restart(t)
			}
			// Revoked at once when etcd answered, else expired with the
			// lease (etcd gives leases a full TTL again when it restarts).
			eventually(t, ttl+5*time.Second, "the nodes' keys gone", func() bool {
				return keys("nodes/") == 0 && keys("elections/") == 0 && keys("health/") == 0
			})
		})
	}
}
