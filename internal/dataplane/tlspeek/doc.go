// Package tlspeek reads a TLS ClientHello off a connection without taking
// it from the TLS server (or the target) that will handle the connection:
// Peek returns what the hello says and every byte it read, and Replay
// gives back a net.Conn that yields those bytes again before reading on.
//
// The ingress uses it to choose a service by SNI before anything else
// happens: a TLS_PASSTHROUGH listener forwards the untouched bytes to a
// target, a TLS-terminating listener hands the replaying conn to
// crypto/tls.
//
// The parser follows RFC 8446 §4.1.2 (and RFC 5246 §7.4.1.2 for hellos
// without extensions) and is as strict as crypto/tls's own server on the
// parts it reads (server_name, ALPN, supported_versions, duplicate
// extensions), so that what is judged here is what the TLS server sees; a
// fuzz test holds the two side by side. A ClientHello may span several
// handshake records (post-quantum key shares make Go 1.26's default hello
// larger than many MTUs, and some clients fragment small records too) and
// records may arrive split across reads; both are handled. The size is
// bounded (Peek's max); time is the caller's: set a read deadline on the
// connection before calling Peek.
//
// Pure: it imports nothing of Trellis, and must not.
package tlspeek
