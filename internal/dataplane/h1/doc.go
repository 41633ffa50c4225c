// Package h1 is HTTP/1.x on the wire, built for a proxy: the message-head
// parser (parse.go), the server (Server: Serve on a listener, ServeConn on
// one accepted connection, Shutdown, Close) and its gone-client Watchdog,
// and the upstream client (Client: pools of keep-alive connections keyed by
// a caller's Network and address, Conn.RoundTrip).
//
// It knows nothing of Lattice, snapshots or VPCs. What a caller needs of a
// connection it gets through declared seams, never by reaching into the
// server's types: ConnInfoOf (peer, local address, TLS state), OnGone and
// ClearGone (abort an upstream exchange when the client goes away, without
// allocating), ResponseStats and BodyBytesRead (for an access log),
// Server.HandOff (a connection that opens with the HTTP/2 preface goes to
// the caller, as h1 knows nothing of HTTP/2) and Server.Rejected
// (requests the server answered itself), CanUpgrade and Upgrade (the
// handler takes the connection over after answering 101 Switching
// Protocols, until it returns: upgrade.go), and on the client side
// Conn.ExpectUpgrade and Conn.Upgraded (the same after a target's 101),
// Client.Skip and Client.SkipTrailer (the caller's header policy) with the
// extra fields of Conn.RoundTrip. Another server of the proxy (HTTP/2:
// internal/dataplane/h2) offers the same seams to handlers by implementing
// ConnContext (its request context), Stats (its response writer) and
// BodyStats (its request body).
//
// It must not import any package of this module (internal/archtest).
package h1
