package metrics

import "github.com/prometheus/client_golang/prometheus"

// ClusterState is what the cluster tells of the nodes (internal/cluster):
// which elections this node leads, and the live nodes by role.
type ClusterState interface {
	Leading(election string) bool
	NodesByRole() map[string]int
}

// WatchCluster registers trellis_cluster_leader (1 for each of elections
// this node leads) and trellis_cluster_nodes (live nodes by role), read at
// scrape time (docs/etcd.md: Roles, Elections).
func (m *Metrics) WatchCluster(c ClusterState, elections []string) {
	leader := prometheus.BuildFQName(Namespace, "cluster", "leader")
	for _, e := range elections {
		m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: leader,
			Help:        "1 while this node runs the once-only work of the election (canaries, drained-targets), else 0.",
			ConstLabels: prometheus.Labels{"election": e}},
			func() float64 {
				if c.Leading(e) {
					return 1
				}
				return 0
			}))
	}
	m.Registry.MustRegister(&clusterNodes{c: c, desc: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "cluster", "nodes"),
		"Live nodes of the installation by role (api, dataplane, health), as registered in etcd; a node counts once per role.", []string{"role"}, nil)})
}

type clusterNodes struct {
	c    ClusterState
	desc *prometheus.Desc
}

func (n *clusterNodes) Describe(ch chan<- *prometheus.Desc) { ch <- n.desc }

func (n *clusterNodes) Collect(ch chan<- prometheus.Metric) {
	for role, count := range n.c.NodesByRole() {
		ch <- prometheus.MustNewConstMetric(n.desc, prometheus.GaugeValue, float64(count), role)
	}
}
