// Package passthrough is the data path of a TLS_PASSTHROUGH listener: given
// a connection accepted by the ingress whose ClientHello was peeked
// (tlspeek), it finds the service whose custom domain is the hello's SNI,
// picks a TCP target group (weighted) and a target (upstream.Picker), dials
// it from the target group's VPC network and relays bytes both ways,
// untouched: TLS runs end to end between client and target.
//
// What Lattice does, and so does this package: the SNI must equal the
// service's custom domain exactly (the generated name is not matched); only
// the default rule's forward action counts; no header is added; the auth
// policies of an AWS_IAM network or service judge the connection as an
// anonymous caller (passthrough is anonymous-only: auth.CheckConn), before
// any target is dialed; a connection lives at most
// MaxConnDuration (10 minutes) and is then closed. Security groups are the
// ingress's (checked at accept), not this package's.
//
// Bytes are copied in user space with a pooled buffer per direction rather
// than by splice(2): the idle timeout has to see every byte of either
// direction as it passes, which a kernel-side copy does not report until it
// returns. The read deadline of each direction is re-armed only when it
// fires (from the last byte seen either way), so a busy connection costs no
// timer work per read.
//
// ServeResource (resource.go) relays the TCP connections of resource
// configuration ports the same way, to the resource dialed from its
// gateway VPC's network; the address and port a connection was accepted at
// name the configuration (snapshot.FindResource).
//
// It imports snapshot, route, upstream, vpcnet, accesslog and tlspeek; it
// must not import proxy, ingress, store, service or api.
package passthrough
