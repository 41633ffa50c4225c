// Package ingress owns the data plane's listening sockets: one per VPC
// ingress address and port that a reachable service listens on, opened in
// the VPC's network (vpcnet), reconciled with each snapshot (Sync, Run),
// drained when no longer wanted, and closed gracefully (Close).
//
// A connection is first gated by the security groups of its VPC's
// association, at accept, before any byte is read (sgate.go). It is then
// dispatched (dispatch.go): cleartext HTTP/1.x to the h1 server, HTTP/2
// (cleartext with prior knowledge, or ALPN "h2" after TLS termination) to
// the h2 server (net/http's with Config.StdH2), TLS passthrough to its
// relay; a resource socket — at the resource configuration's own address
// in the VPC (snapshot.Resource.Addr, never the ingress address), one per
// port — hands every admitted connection to Config.Resources as raw TCP,
// with the address and port it was accepted at (resource.go). Every request
// goes to the http.Handler that Config.Handler gives for the socket's VPC
// and port: that is all the attribution a request gets, never anything in
// the request itself.
//
// Connections are counted through Config.ConnObserver (connobs.go: per
// socket, and TLS handshakes by the service their SNI names), implemented
// in internal/metrics: ingress imports no Prometheus.
//
// Ingress knows nothing of the Lattice request (services, rules, targets):
// it must not import proxy, auth, route, store, service or api
// (internal/archtest holds this).
package ingress
