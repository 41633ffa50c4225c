package ingress

// Connection-level observation (docs/metrics.md): Lattice reports
// connection counts, HTTP/1 vs HTTP/2 connections and TLS handshakes
// (reference §7.6). A client connection is the socket's (its VPC and
// port) until a request names a service, so that is what it is counted
// by; a TLS handshake names a service by its SNI, so handshakes also
// carry the service ID when the SNI is a name of a service the VPC
// reaches. The observer is resolved once per socket (Socket): a
// connection costs a few calls on that handle, no lookup and no
// allocation.

// ConnProto is what a client connection turned out to carry.
type ConnProto uint8

const (
	// ProtoNone: closed before it carried anything served here (a TLS
	// handshake that failed or was refused, not a ClientHello).
	ProtoNone ConnProto = iota
	// ProtoHTTP1: HTTP/1.x, cleartext or over TLS. A cleartext
	// connection that is not handed on (to HTTP/2 or TLS) counts as
	// HTTP/1.x, also when it sent nothing or garbage (answered 400).
	ProtoHTTP1
	// ProtoHTTP2: HTTP/2, cleartext with prior knowledge (h2c) or
	// negotiated by ALPN "h2".
	ProtoHTTP2
	// ProtoPassthrough: relayed to a TLS_PASSTHROUGH listener's targets.
	ProtoPassthrough
)

// String is the protocol's label value.
func (p ConnProto) String() string {
	switch p {
	case ProtoHTTP1:
		return "http1"
	case ProtoHTTP2:
		return "http2"
	case ProtoPassthrough:
		return "passthrough"
	}
	return "none"
}

// ConnObserver is told of the client connections of the ingress sockets
// (internal/metrics implements it; Config.ConnObserver).
type ConnObserver interface {
	// Socket is called once per socket opened and returns what counts
	// its connections; the socket calls its Done once it is closed and
	// drained.
	Socket(vpcID string, port int) SocketConns
}

// SocketConns counts the connections of one socket. Its methods are
// called on the connections' goroutines, concurrently: they must not
// block and should not allocate.
type SocketConns interface {
	// Opened: a connection the security groups admitted is being served.
	Opened()
	// Protocol: the connection's protocol is known (once per connection:
	// at the hand-off to HTTP/2, TLS termination or passthrough, and for
	// a cleartext HTTP/1.x one when it ends).
	Protocol(p ConnProto)
	// TLSHandshake: a TLS handshake terminated here ended, ok or not;
	// serviceID is the service the SNI names in the socket's VPC ("" when
	// it names none, or there is no SNI).
	TLSHandshake(serviceID string, ok bool)
	// Closed: the connection is over (it was Opened).
	Closed()
	// Done: the socket is closed and its connections are gone.
	Done()
}

// sniService is the ID of the service the SNI names for the socket's VPC,
// "" when none: the snapshot's host table, which is what the TLS
// terminator's certificates answer for too.
func (d *dispatcher) sniService(sni string) string {
	if sni == "" || d.holder == nil {
		return ""
	}
	snap := d.holder.Load()
	if snap == nil {
		return ""
	}
	if v := snap.VPCs[d.vpcID]; v != nil {
		if svc := v.Hosts.Get(sni); svc != nil {
			return svc.ID
		}
	}
	return ""
}
