// Package metrics owns Trellis's Prometheus series: one injected registry
// per App (New; no global registry, no init-time registration), the
// collectors of every subsystem, and the /metrics handler that serves them
// (promhttp with that registry). docs/metrics.md lists every series.
//
// The subsystems do not import Prometheus: each exposes the smallest hook
// (the proxy's Observer and TargetConns, the ingress's ConnObserver, the
// health checker's OnCheck, DNS's OnQuery, the
// function host's OnEvent, the snapshot watcher's OnPublish, the API's
// CallObserver, the access logger's counters), and this package implements
// them; internal/app wires them together.
//
// The data plane's hot path stays allocation-free: DataPlane resolves the
// counters of every (service, target group) pair once per snapshot (Bind,
// called when a snapshot is published) into a table keyed by the
// snapshot's own pointers, so that a request costs one map lookup and a
// few atomic adds, never a WithLabelValues. Handles are cached by ID and
// reused across snapshots; the series of services and target groups that
// left the snapshot are deleted when it is bound (the label sets are
// bounded by what exists).
//
// It must not import the store, the services or the API (it sees only
// snapshots and hook arguments), nor be imported by data-plane packages.
package metrics
