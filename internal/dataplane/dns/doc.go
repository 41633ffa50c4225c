// Package dns is the resolver of each VPC: a DNS server per VPC, on UDP and
// TCP, that answers the names of the services the VPC reaches (their
// generated DNS names and custom domain names, through the double
// association) with the VPC's ingress address, from the compiled snapshot
// (snapshot.VPC.DNS), and forwards every other name to upstream resolvers.
//
// The VPC a query belongs to is the socket it arrived on, as for HTTP: in
// host mode each VPC's server listens on its ingress address (Config.Listen
// may open the sockets elsewhere, e.g. inside a VPC's network namespace).
// Sockets follow the snapshot like the ingress proxy's: a VPC that appears
// gets its server, a deleted one's closes.
//
// Answers (docs/dns.md):
//   - A (IPv4 ingress) or AAAA (IPv6 ingress) for a reachable name; the other
//     type, and every other type, of that name: NODATA (RFC 2308 §2.2).
//   - NXDOMAIN for any name Trellis knows as a service name that the VPC does
//     not reach, and for anything under the Lattice zone
//     vpc-lattice-svcs.REGION.on.aws (Lattice owns it; no public resolver has
//     a better answer).
//   - Everything else is forwarded to the upstream resolvers, or REFUSED when
//     there are none (RFC 8906 §3.1.4: a server that does not recurse says so).
//
// dns imports snapshot only: never store, service, api or proxy.
package dns
