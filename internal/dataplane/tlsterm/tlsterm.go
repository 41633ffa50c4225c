package tlsterm

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trellis-net/trellis/internal/ca"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// cipherSuites is the TLS 1.2 policy: Lattice's ECDHE suites (reference
// §5: ECDHE-RSA-AES128-GCM-SHA256, ECDHE-RSA-AES128-SHA,
// ECDHE-RSA-AES256-GCM-SHA384, ECDHE-RSA-AES256-SHA) and their ECDHE-ECDSA
// equivalents, since the installation CA issues ECDSA P-256 leaves and an
// imported certificate may be either. Go has ignored the order of
// Config.CipherSuites since 1.17 (it orders by its own preference, AES-GCM
// first where the CPU has AES instructions), so this is a set, not a
// preference.
//
// Lattice's non-ECDHE suites (AES128-GCM-SHA256, AES128-SHA, ...: RSA key
// exchange) are left out on purpose. Go disables them by default since 1.22
// (GODEBUG tlsrsakex), but naming them here WOULD enable them
// (Config.cipherSuites keeps every supported suite the list names;
// TestRSAKeyExchangeListedIsEnabled shows it). They have no forward
// secrecy, are the subject of Bleichenbacher-style attacks (ROBOT), and are
// only usable with an RSA certificate; every client of the last decade
// offers an ECDHE suite. A difference from Lattice, documented.
//
// TLS 1.3 suites are not configurable in Go: AES-128-GCM, AES-256-GCM and
// CHACHA20-POLY1305, the same three as Lattice.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
}

// CipherSuites returns the TLS 1.2 cipher suites an HTTPS listener accepts
// (a copy).
func CipherSuites() []uint16 { return slices.Clone(cipherSuites) }

// ALPN protocols, Lattice's HTTP2Preferred policy: h2 when the client
// offers it, else HTTP/1.1. A client that sends no ALPN extension gets
// HTTP/1.1 (ConnectionState.NegotiatedProtocol is "").
var nextProtos = []string{"h2", "http/1.1"}

// Handshake errors. An SNI that names nothing this socket serves (or no
// SNI) is not one of them: the handshake then fails with the
// unrecognized_name alert (see certificate).
var (
	// ErrNoCA: a leaf is needed and there is no installation CA.
	ErrNoCA = errors.New("tlsterm: no installation CA to issue a certificate")
	// ErrCertificate: the certificate chosen for the name is missing, does
	// not cover the name, or is outside its validity.
	ErrCertificate = errors.New("tlsterm: no usable certificate for the server name")
)

// Config is what a Terminator needs.
type Config struct {
	// Holder is the current snapshot: read at every handshake.
	Holder *snapshot.Holder
	// CA is the installation CA, which issues the leaves of generated names
	// (and of custom domains without a certificateArn). Nil: those names
	// fail their handshakes (ErrNoCA).
	CA *ca.CA
	// Logger gets one warning per name and reason when a handshake fails
	// for want of a usable certificate; nil: slog.Default().
	Logger *slog.Logger
	// Now is the clock for validity checks and issuance; nil: time.Now.
	Now func() time.Time
}

// Terminator terminates TLS for the ingress: one per process, shared by
// every HTTPS socket, holding the cache of issued leaves.
type Terminator struct {
	holder *snapshot.Holder
	ca     atomic.Pointer[ca.CA]
	log    *slog.Logger
	now    func() time.Time

	mu     sync.Mutex
	leaves map[string]*leafEntry // by lowercased name
	pruned *snapshot.Snapshot    // the snapshot leaves was last pruned against

	// failed holds the last failure logged per name, so that each is
	// logged once; cleared by the name's next good handshake.
	failMu  sync.Mutex
	failed  map[string]string
	nFailed atomic.Int32
}

// New returns a Terminator.
func New(c Config) *Terminator {
	t := &Terminator{holder: c.Holder, log: c.Logger, now: c.Now,
		leaves: map[string]*leafEntry{}, failed: map[string]string{}}
	if t.log == nil {
		t.log = slog.Default()
	}
	if t.now == nil {
		t.now = time.Now
	}
	if c.CA != nil {
		t.ca.Store(c.CA)
	}
	return t
}

// SetCA replaces the installation CA: every cached leaf is reissued by the
// new CA at its name's next handshake.
func (t *Terminator) SetCA(c *ca.CA) { t.ca.Store(c) }

// Config returns the tls.Config of one ingress socket: the HTTPS listeners
// on port of the services reachable from the VPC vpcID. Build it once per
// socket; each handshake reads the current snapshot.
//
// Session tickets are on (Go's default): TLS 1.2 and 1.3 resumption. The
// ticket keys are the Config's own, which Go generates and rotates itself
// when SetSessionTicketKeys is never called (a new key every 24 hours,
// tickets accepted for 7 days: tls.Config.ticketKeys). Each socket has its
// own keys, so a ticket from one VPC's socket never resumes on another's.
// A ticket is bound to the SNI name it was issued for, and resumes only
// while that name is still served by this socket: resumption skips the
// certificate, so without this a ticket would outlive the service or cross
// to another name.
func (t *Terminator) Config(vpcID string, port int) *tls.Config {
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		MaxVersion:   tls.VersionTLS13,
		CipherSuites: cipherSuites,
		NextProtos:   nextProtos,
	}
	cfg.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		return t.certificate(hello, vpcID, port)
	}
	cfg.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		ss.Extra = append(ss.Extra, []byte(sessionTag+strings.ToLower(cs.ServerName)))
		return cfg.EncryptTicket(cs, ss)
	}
	cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		ss, err := cfg.DecryptTicket(identity, cs)
		if ss == nil || err != nil {
			return nil, err
		}
		name := strings.ToLower(cs.ServerName)
		if !ticketFor(ss, name) || t.service(t.holder.Load(), vpcID, port, name) == nil {
			return nil, nil // a full handshake instead
		}
		return ss, nil
	}
	return cfg
}

// sessionTag marks the Extra entry of a session ticket naming its server
// name.
const sessionTag = "trellis-sni:"

func ticketFor(ss *tls.SessionState, name string) bool {
	for _, e := range ss.Extra {
		if rest, ok := strings.CutPrefix(string(e), sessionTag); ok {
			return rest == name
		}
	}
	return false
}

// service returns the service that name (lowercased) reaches from the VPC
// when it has an HTTPS listener on port; nil otherwise.
func (t *Terminator) service(s *snapshot.Snapshot, vpcID string, port int, name string) *snapshot.Service {
	if s == nil || name == "" {
		return nil
	}
	v := s.VPCs[vpcID]
	if v == nil {
		return nil
	}
	svc := v.Hosts.Get(name)
	if svc == nil {
		return nil
	}
	if l := svc.Listeners[port]; l == nil || l.Protocol != model.ProtocolHTTPS {
		return nil
	}
	return svc
}

// certificate chooses the certificate for a handshake. Returning (nil, nil)
// makes crypto/tls fail the handshake with the unrecognized_name alert
// (RFC 6066 §3): no SNI (Lattice requires it: the endpoint is shared by
// every service), or a name this socket does not serve. Lattice answers an
// unknown Host with 404 "Non Existent Service", but that needs a finished
// handshake, and there is no certificate to finish it with for a name that
// is not ours. An unknown name is the client's doing and is not logged.
func (t *Terminator) certificate(hello *tls.ClientHelloInfo, vpcID string, port int) (*tls.Certificate, error) {
	if hello.ServerName == "" {
		return nil, nil
	}
	name := strings.ToLower(hello.ServerName)
	s := t.holder.Load()
	svc := t.service(s, vpcID, port, name)
	if svc == nil {
		return nil, nil
	}
	now := t.now()
	var cert *tls.Certificate
	if name != svc.DNSName && name == svc.CustomDomain && svc.CertificateARN != "" {
		if cert = s.Certificates[svc.CertificateARN]; cert == nil {
			t.fail(name, "its certificate "+svc.CertificateARN+" is not usable (deleted, or does not parse)")
			return nil, ErrCertificate
		}
	} else {
		var err error
		if cert, err = t.leaf(hello, s, name, now); err != nil {
			t.fail(name, "issuing its certificate: "+err.Error())
			return nil, err
		}
	}
	if reason := unusable(cert, name, now); reason != "" {
		t.fail(name, reason)
		return nil, ErrCertificate
	}
	if t.nFailed.Load() > 0 {
		t.recovered(name)
	}
	return cert, nil
}

// unusable says why cert cannot serve name now; "" when it can.
func unusable(cert *tls.Certificate, name string, now time.Time) string {
	leaf := cert.Leaf
	if leaf == nil { // X509KeyPair fills Leaf (Go 1.23+); a certificate built otherwise may not
		if len(cert.Certificate) == 0 {
			return "its certificate is empty"
		}
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return "its certificate does not parse"
		}
	}
	switch {
	case !ca.Covers(leaf.DNSNames, name):
		return "its certificate does not cover the name"
	case now.Before(leaf.NotBefore):
		return "its certificate is not valid yet (notBefore " + leaf.NotBefore.UTC().Format(time.RFC3339) + ")"
	case now.After(leaf.NotAfter):
		return "its certificate expired (notAfter " + leaf.NotAfter.UTC().Format(time.RFC3339) + ")"
	}
	return ""
}

// fail logs a failed handshake for name, once per name and reason.
func (t *Terminator) fail(name, reason string) {
	t.failMu.Lock()
	defer t.failMu.Unlock()
	if t.failed[name] == reason {
		return
	}
	if len(t.failed) >= maxFailed {
		// Bounded: a name that fails is a served name, but names come and go.
		clear(t.failed)
	}
	t.failed[name] = reason
	t.nFailed.Store(int32(len(t.failed)))
	t.log.Warn("HTTPS handshake refused: no usable certificate", "serverName", name, "reason", reason)
}

const maxFailed = 4096

// recovered forgets name's failure, so that a later one is logged again.
func (t *Terminator) recovered(name string) {
	t.failMu.Lock()
	defer t.failMu.Unlock()
	if _, ok := t.failed[name]; ok {
		delete(t.failed, name)
		t.nFailed.Store(int32(len(t.failed)))
		t.log.Info("HTTPS handshakes served again", "serverName", name)
	}
}
