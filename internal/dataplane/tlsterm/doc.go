// Package tlsterm owns TLS termination on the HTTPS listeners of the
// ingress: the TLS policy (versions, cipher suites, ALPN, session tickets)
// and the choice of the certificate presented for each SNI name
// (docs/certificates.md, "HTTPS listeners").
//
// The ingress asks a Terminator once per listening socket for a
// *tls.Config (Terminator.Config(vpcID, port)); every handshake on that
// socket then reads the CURRENT snapshot, so a service that appears, goes
// away, or has its ACM certificate re-imported is seen by the next
// handshake without a restart or a new socket.
//
// Certificates:
//   - a service's generated DNS name: a leaf the installation CA issues
//     for that name, cached by name, issued once (concurrent handshakes for
//     one name wait for one issuance; other names are never held up) and
//     reissued in the background well before it expires, or at once when
//     the CA changes;
//   - its custom domain: the ACM certificate its certificateArn names
//     (snapshot.Certificates), or, without one, a leaf from the installation
//     CA (a Trellis convenience; Lattice requires a certificate).
//
// The chosen certificate must cover the name (ca.Covers) and be within its
// validity, or the handshake fails (logged once per name and reason).
//
// tlsterm imports snapshot, ca and model only. It must not import the
// ingress, the proxy or the HTTP codec (internal/dataplane/proxy, ingress,
// h1): they call it, not the other way round.
package tlsterm
