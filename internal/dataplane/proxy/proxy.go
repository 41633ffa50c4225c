// Package proxy is the Lattice request of the HTTP data plane: it serves
// the requests that package ingress accepts on every VPC's ingress address
// and port (Handler), and forwards each to a target chosen by the
// service's rules.
//
// A request is attributed to a VPC by the socket it entered (ingress
// address and port, given by ingress), never by anything in the request.
// It then goes
// through: service lookup by Host among the services the VPC can reach (the
// double association; anything else is 404 "Non Existent Service" and no
// target is dialed) → listener by port → first matching rule → fixed
// response, or weighted target group pick → target pick (round robin or
// least outstanding over available targets — neither marked down, ejected
// as an outlier nor stalled — failing open) → upstream round trip with the
// Lattice headers, a time-to-headers timeout, passive down-marking of
// targets that refuse connections, and retries on other targets when the
// first cannot have acted on the request (outcome.go). Before any of it the
// request's path is normalised once (pathnorm) and the client's copies of
// the fields the data plane asserts are removed (docs/security.md).
//
// The routing state is read from the current snapshot, loaded once per
// request; live target state comes from the upstream registry. The proxy
// never reads the store, and never imports ingress (internal/archtest).
// HTTP/1.x on the wire is package h1's; the proxy reaches its connection
// only through h1's declared seams (h1.ConnInfoOf, h1.ResponseStats, h1.BodyBytesRead,
// h1.Upgrade).
//
// A request routed to a LAMBDA target group goes through all of the above
// too; then, instead of a connection, its group's function is invoked with
// the Lattice event through Config.Lambda (lambda.go, package lambda,
// docs/lambda.md).
//
// A WebSocket opening handshake goes through all of the above too; then,
// instead of the retry loop, it is upgraded on both sides and the two
// connections are spliced (websocket.go, docs/protocols.md).
package proxy

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/auth"
	"github.com/trellis-net/trellis/internal/dataplane/h1"
	"github.com/trellis-net/trellis/internal/dataplane/lambda"
	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/dataplane/vpcnet"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// Defaults of Config.
const (
	DefaultRequestTimeout = 60 * time.Second
	DefaultPassiveDownFor = 10 * time.Second
	// DialTimeout bounds connecting to a target (below the request timeout,
	// a dial that times out marks the target down like a refused one).
	DialTimeout = 10 * time.Second
)

// Config configures a Proxy.
type Config struct {
	// Holder publishes the current snapshot (required).
	Holder *snapshot.Holder
	// Registry holds the live target state (the picker reads and the
	// proxy marks targets in it); a new one when nil. When Picker has its
	// own Registry, that one is used.
	Registry *upstream.Registry
	// Picker chooses targets; round robin over Registry when nil. A Picker
	// without a Registry gets this one.
	Picker *upstream.Picker
	// RequestTimeout bounds the time from the start of forwarding to the
	// target's response headers (a slow body after them is not limited);
	// past it the client gets 504. Default 60s.
	RequestTimeout time.Duration
	// PassiveDownFor is how long a target without health checks whose
	// connection failed stays out of rotation. A checked target stays out
	// until a check that started after the failure passes (a failed check
	// extends the mark). Default 10s.
	PassiveDownFor time.Duration
	// Auth authenticates and authorizes requests to services whose network
	// or own auth type is AWS_IAM; nil lets every request through.
	Auth *auth.Authorizer
	// AccessLog receives the record of every request to a service or
	// network with access log subscriptions; nil writes none.
	AccessLog AccessLogger
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
	// Net gives the network of each VPC (vpcnet): targets of a target
	// group are dialed from the network of the target group's VPC. Nil, or a nil Net for a
	// VPC, is the host's network, served exactly as without it. The Nets
	// it returns must be comparable (pointers): connection pools are kept
	// per Net.
	Net vpcnet.Lookup
	// Lambda invokes the functions of LAMBDA target groups (lambda.go):
	// the Lambda Invoke API at an endpoint (lambda.Remote) or the function
	// host. Nil answers their requests 502 "no Lambda invoker configured".
	Lambda lambda.Invoker
	// WebSocketIdleTimeout ends an upgraded WebSocket session through
	// which no byte went either way for this long (websocket.go).
	// Default DefaultWebSocketIdleTimeout (60s).
	WebSocketIdleTimeout time.Duration
	// Observer sees every request once its response is over (observe.go):
	// the metrics now, traffic aggregates and tracing later. Nil observes
	// nothing and costs nothing.
	Observer Observer
	// Tracer starts a span per request (trace.go; package tracing): the
	// client's traceparent is continued and the target gets one of the
	// same trace instead. Nil traces nothing and costs nothing.
	Tracer Tracer
	// TargetConns is told of every dial to a target (connobs.go): the
	// target groups' connection metrics. Nil costs nothing.
	TargetConns TargetConnObserver
}

// Proxy is the data plane of the VPCs (host mode, and netns through Config.Net). Its methods are safe for
// concurrent use.
type Proxy struct {
	cfg    Config
	log    *slog.Logger
	picker *upstream.Picker

	// Upstream transports by target group protocol and version; shared by
	// every target so connection pools survive snapshot swaps.
	h1, h1TLS, h2c, h2TLS *http.Transport
	// h1up is the proxy's own HTTP/1.1 client (package h1), used instead
	// of h1; h1 stays as the marker of that protocol.
	h1up *h1.Client
	// nets holds the transports of targets in networks other than the
	// host's (Config.Net), by Net; read on the request path.
	netsMu sync.RWMutex
	nets   map[vpcnet.Net]*transports
	// connObs is Config.TargetConns.
	connObs TargetConnObserver
}

// New returns a Proxy; package ingress serves its Handler on the sockets.
func New(cfg Config) *Proxy {
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.PassiveDownFor <= 0 {
		cfg.PassiveDownFor = DefaultPassiveDownFor
	}
	if cfg.WebSocketIdleTimeout <= 0 {
		cfg.WebSocketIdleTimeout = DefaultWebSocketIdleTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		if cfg.Picker != nil && cfg.Picker.Registry != nil {
			cfg.Registry = cfg.Picker.Registry
		} else {
			cfg.Registry = new(upstream.Registry)
		}
	}
	if cfg.Picker == nil {
		cfg.Picker = &upstream.Picker{Registry: cfg.Registry, Policy: upstream.RoundRobin}
	} else if cfg.Picker.Registry == nil {
		cfg.Picker.Registry = cfg.Registry
	}
	p := &Proxy{
		cfg:    cfg,
		log:    cfg.Logger.With("component", "proxy"),
		picker: cfg.Picker,
	}
	p.connObs = cfg.TargetConns
	p.h1 = newTransport(false, false, nil)
	p.h1up = h1.NewClient(DialTimeout)
	p.h1up.Skip, p.h1up.SkipTrailer = skipRequestField, skipTrailerField
	p.nets = map[vpcnet.Net]*transports{}
	p.h1TLS = newTransport(true, false, nil)
	p.h2c = newTransport(false, true, nil)
	p.h2TLS = newTransport(true, true, nil)
	return p
}

// transports are the net/http transports of the targets in one network
// other than the host's. HTTP/1.1 targets use the proxy's own client,
// whose pools are kept per network too (h1.Client).
type transports struct {
	h1TLS, h2c, h2TLS *http.Transport
}

func (t *transports) closeIdle() {
	t.h1TLS.CloseIdleConnections()
	t.h2c.CloseIdleConnections()
	t.h2TLS.CloseIdleConnections()
}

// targetNet returns the network tg's targets are dialed from: nil for the
// host's, else the Net of tg's VPC.
func (p *Proxy) targetNet(tg *snapshot.TargetGroup) vpcnet.Net {
	if p.cfg.Net == nil {
		return nil
	}
	return p.cfg.Net(tg.VpcID)
}

// netTransports returns the transports of network n, creating them on
// first use.
func (p *Proxy) netTransports(n vpcnet.Net) *transports {
	p.netsMu.RLock()
	t := p.nets[n]
	p.netsMu.RUnlock()
	if t != nil {
		return t
	}
	p.netsMu.Lock()
	defer p.netsMu.Unlock()
	if t = p.nets[n]; t == nil {
		t = &transports{h1TLS: newTransport(true, false, n), h2c: newTransport(false, true, n), h2TLS: newTransport(true, true, n)}
		p.nets[n] = t
	}
	return t
}

// forgetNets drops the transports and idle HTTP/1.1 connections of
// networks the snapshot no longer names (a deleted VPC, a namespace made
// again): connections in use finish; idle ones are closed.
func (p *Proxy) forgetNets(snap *snapshot.Snapshot) {
	if p.cfg.Net == nil {
		return
	}
	live := map[vpcnet.Net]bool{}
	if snap != nil {
		for id := range snap.VPCs {
			if n := p.cfg.Net(id); n != nil {
				live[n] = true
			}
		}
	}
	p.netsMu.Lock()
	var gone []*transports
	for n, t := range p.nets {
		if !live[n] {
			delete(p.nets, n)
			gone = append(gone, t)
		}
	}
	p.netsMu.Unlock()
	for _, t := range gone {
		t.closeIdle()
	}
	p.h1up.Forget(func(n h1.Network) bool {
		if n == nil {
			return true
		}
		vn, ok := n.(vpcnet.Net)
		return ok && live[vn]
	})
}

func newTransport(useTLS, h2 bool, n vpcnet.Net) *http.Transport {
	d := &net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}
	dial := d.DialContext
	if n != nil {
		dial = func(ctx context.Context, network, address string) (net.Conn, error) {
			return n.Dial(ctx, d, network, address)
		}
	}
	protos := new(http.Protocols)
	switch {
	case h2 && useTLS:
		protos.SetHTTP2(true)
	case h2:
		protos.SetUnencryptedHTTP2(true)
	default:
		protos.SetHTTP1(true)
	}
	t := &http.Transport{
		Proxy:                 nil, // never an environment proxy
		DialContext:           dial,
		MaxIdleConns:          0, // no global limit
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   DialTimeout,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // pass bodies and Accept-Encoding through untouched
		Protocols:             protos,
	}
	if useTLS {
		// Lattice does not validate target certificates.
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // documented Lattice behaviour
	}
	return t
}

// Handler returns the handler of the ingress socket of VPC vpcID and port:
// it knows the VPC and port, which is all the attribution a request gets.
func (p *Proxy) Handler(vpcID string, port int) http.Handler {
	return &handler{
		p:       p,
		vpcID:   vpcID,
		port:    port,
		portHdr: []string{strconv.Itoa(port)},
		vpcHdr:  []string{vpcID},
	}
}

// Rejected returns what records, in the access logs of VPC vpcID's
// network, the requests its socket on port refused before routing them
// (h1.Server.Rejected).
func (p *Proxy) Rejected(vpcID string, port int) func(status int, peer netip.AddrPort, bytesSent int64) {
	h := &handler{p: p, vpcID: vpcID, port: port}
	return h.rejected
}

// Forget lets go of what snap no longer names: the round-robin positions
// of target groups that left it and the transports and idle connections
// of networks it no longer names (ingress.Config.AfterSync).
func (p *Proxy) Forget(snap *snapshot.Snapshot) {
	if snap != nil {
		p.picker.Forget(func(id string) bool { _, ok := snap.TargetGroups.Lookup(id); return ok })
	}
	p.forgetNets(snap)
}

// CloseIdle closes the idle connections to targets; call it once ingress
// has closed (requests in flight keep theirs).
func (p *Proxy) CloseIdle() {
	for _, t := range []*http.Transport{p.h1, p.h1TLS, p.h2c, p.h2TLS} {
		t.CloseIdleConnections()
	}
	p.netsMu.Lock()
	for n, t := range p.nets {
		delete(p.nets, n)
		t.closeIdle()
	}
	p.netsMu.Unlock()
	p.h1up.CloseIdle()
}
