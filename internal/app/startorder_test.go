package app_test

import (
	"slices"
	"testing"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/cluster"
)

// TestStartOrderPerRole pins the runners each role starts and their order:
// the order is a contract (Close stops them in reverse, so each part stops
// before what it follows: the ingress before the access logs, the API
// before the elected work, the store last).
func TestStartOrderPerRole(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		s := apptest.StartWith(t, apptest.Options{MetricsAddr: "127.0.0.1:0"})
		want := []string{"store", "cluster", "snapshot-watcher", "vpc-networks", "health-checker", "access-logs",
			"function-host", "ingress", "upkeep", "metrics", "elected-work", "api"}
		if got := s.App.RunnerNames(); !slices.Equal(got, want) {
			t.Fatalf("runners\n got %q\nwant %q", got, want)
		}
	})
	t.Run("embedded, every optional part", func(t *testing.T) {
		// Loopback addresses nothing listens on: these parts dial only
		// when they have something to send.
		s := apptest.StartWith(t, apptest.Options{MetricsAddr: "127.0.0.1:0", LambdaEndpoint: "http://127.0.0.1:9",
			OTLPEndpoint: "http://127.0.0.1:9/v1/traces", DNS: app.DNSConfig{Port: freeDNSPort(t)}})
		want := []string{"store", "cluster", "snapshot-watcher", "vpc-networks", "health-checker", "access-logs",
			"lambda-invoker", "function-host", "tracing", "ingress", "upkeep", "dns", "metrics", "elected-work", "api"}
		if got := s.App.RunnerNames(); !slices.Equal(got, want) {
			t.Fatalf("runners\n got %q\nwant %q", got, want)
		}
	})
	n := newNodes(t)
	for _, c := range []struct {
		name  string
		roles cluster.Roles
		want  []string
	}{
		{"api", cluster.Roles{API: true}, []string{"store", "snapshot-cache", "cluster", "snapshot-watcher",
			"access-logs", "upkeep", "elected-work", "api"}},
		{"dataplane", cluster.Roles{Dataplane: true}, []string{"store", "snapshot-cache", "cluster", "snapshot-watcher",
			"vpc-networks", "health-feed", "access-logs", "function-host", "ingress", "upkeep"}},
		{"health", cluster.Roles{Health: true}, []string{"store", "snapshot-cache", "cluster", "snapshot-watcher",
			"vpc-networks", "health-checker", "access-logs", "upkeep"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := apptest.StartWith(t, n.options("node-"+c.name, c.roles))
			if got := s.App.RunnerNames(); !slices.Equal(got, c.want) {
				t.Fatalf("runners\n got %q\nwant %q", got, c.want)
			}
		})
	}
}
