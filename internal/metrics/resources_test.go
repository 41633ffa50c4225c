package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// Reached and unreachable connections are counted apart, by network; only
// reached ones carry bytes; the gauge follows opens and closes.
func TestResourcesCounts(t *testing.T) {
	r := newResources(prometheus.NewRegistry())
	a := &snapshot.Resource{ConfigurationID: "rcfg-0a", Network: &snapshot.ServiceNetwork{ID: "sn-01"}}
	b := &snapshot.Resource{ConfigurationID: "rcfg-0a", Network: &snapshot.ServiceNetwork{ID: "sn-02"}}
	r.ResourceConnOpened(a)
	r.ResourceConnOpened(a)
	r.ResourceConnOpened(b)
	if got := testutil.ToFloat64(r.active.WithLabelValues("rcfg-0a")); got != 3 {
		t.Fatalf("active = %v, want 3", got)
	}
	r.ResourceConnClosed(a, true, 10, 100)
	r.ResourceConnClosed(a, false, 0, 0)
	r.ResourceConnClosed(b, true, 1, 2)
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"active", testutil.ToFloat64(r.active.WithLabelValues("rcfg-0a")), 0},
		{"reached sn-01", testutil.ToFloat64(r.conns.WithLabelValues("rcfg-0a", "sn-01", "reached")), 1},
		{"unreachable sn-01", testutil.ToFloat64(r.conns.WithLabelValues("rcfg-0a", "sn-01", "unreachable")), 1},
		{"reached sn-02", testutil.ToFloat64(r.conns.WithLabelValues("rcfg-0a", "sn-02", "reached")), 1},
		{"to_resource", testutil.ToFloat64(r.bytes.WithLabelValues("rcfg-0a", "to_resource")), 11},
		{"to_client", testutil.ToFloat64(r.bytes.WithLabelValues("rcfg-0a", "to_client")), 102},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}
