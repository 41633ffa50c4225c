// Package traffic keeps the data plane's traffic insight (docs/traffic.md):
// bounded per-minute aggregates of the requests each service serves, keyed
// by (service, caller principal, source VPC, target group) — requests, 4xx,
// 5xx and a mergeable log-scale latency sketch — in a ring of minute
// buckets that covers a configurable window (trellis serve
// --traffic-window).
//
// The Aggregator is a proxy.Observer: the proxy hands it every request's
// Observation when the response is over, on the request path, so counting
// a key already seen this minute takes a sharded read lock and atomic adds
// and allocates nothing. The key set of a minute is bounded; requests past
// the bound count under one overflow key (Overflow says how many).
//
// Its queries (by service, by caller, the busiest) answer the API through
// an adapter in internal/app, and the canary controller through
// TargetGroupWindow.
//
// It must not import the store, the services, the API, the app or the CLI
// (internal/archtest), nor Prometheus: it sees snapshot objects and the
// proxy's Observation only.
package traffic
