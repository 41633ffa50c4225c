package app

import (
	"time"

	"github.com/trellis-net/trellis/internal/api"
	"github.com/trellis-net/trellis/internal/dataplane/traffic"
)

// DefaultTrafficWindow is how long traffic aggregates are kept by default
// (serve --traffic-window).
const DefaultTrafficWindow = time.Hour

// Traffic is the data plane's traffic aggregator (the canary controller
// reads it); nil when aggregation is off.
func (a *App) Traffic() *traffic.Aggregator { return a.traffic }

// trafficSource adapts the aggregator to the API's TrafficSource (the API
// does not import the data plane).
type trafficSource struct{ agg *traffic.Aggregator }

var _ api.TrafficSource = trafficSource{}

func (t trafficSource) Window() time.Duration { return t.agg.Window() }

func (t trafficSource) Service(serviceID string, window time.Duration) (callers, targetGroups []api.TrafficRow) {
	c, tg := t.agg.Service(serviceID, time.Now().Add(-window))
	return apiRows(c), apiRows(tg)
}

func (t trafficSource) Caller(principal string, window time.Duration, owned func(string) bool) []api.TrafficRow {
	return apiRows(t.agg.Caller(principal, time.Now().Add(-window), owned))
}

func (t trafficSource) Top(window time.Duration, n int, owned func(string) bool) (services, callers []api.TrafficRow) {
	s, c := t.agg.Top(time.Now().Add(-window), n, owned)
	return apiRows(s), apiRows(c)
}

func apiRows(rows []traffic.Row) []api.TrafficRow {
	out := make([]api.TrafficRow, len(rows))
	for i, r := range rows {
		out[i] = api.TrafficRow{ServiceID: r.ServiceID, Principal: r.Principal, SourceVPCID: r.SourceVPCID,
			TargetGroupID: r.TargetGroupID, Requests: r.Requests, Errors4xx: r.Errors4xx, Errors5xx: r.Errors5xx,
			P50: r.P50, P99: r.P99}
	}
	return out
}
