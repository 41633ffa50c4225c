package proxy

import (
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/trellis-net/trellis/internal/dataplane/auth"
	"github.com/trellis-net/trellis/internal/dataplane/h1"
	"github.com/trellis-net/trellis/internal/dataplane/pathnorm"
	"github.com/trellis-net/trellis/internal/dataplane/route"
	"github.com/trellis-net/trellis/internal/dataplane/tlsterm"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// handler serves one ingress socket: it knows the VPC and port the socket
// belongs to, which is all the attribution a request gets.
type handler struct {
	p       *Proxy
	vpcID   string
	port    int
	portHdr []string // X-Forwarded-Port value, shared read-only
	vpcHdr  []string // X-Amzn-Source-Vpc value (the socket's VPC), shared read-only

	// Small caches of derived header values, keyed by the snapshot objects
	// they derive from (immutable, so pointer equality is enough).
	netHdr    atomic.Pointer[netHdrCache]
	targetHdr atomic.Pointer[targetHdrCache]
}

type netHdrCache struct {
	vpc *snapshot.VPC
	v   []string
}

type targetHdrCache struct {
	svc *snapshot.Service
	sn  *snapshot.ServiceNetwork
	tg  *snapshot.TargetGroup
	v   []string
}

// Header names, in canonical form.
const (
	hdrRequestID           = "X-Amzn-Requestid"
	hdrLatticeNetwork      = "X-Amzn-Lattice-Network"
	hdrLatticeTarget       = "X-Amzn-Lattice-Target"
	hdrLatticeIdentity     = "X-Amzn-Lattice-Identity"
	hdrLatticeIdentityTags = "X-Amzn-Lattice-Identity-Tags"
	hdrSourceVpc           = "X-Amzn-Source-Vpc"
	hdrXFF                 = "X-Forwarded-For"
	hdrXFPort              = "X-Forwarded-Port"
	hdrXFProto             = "X-Forwarded-Proto"
	maxRequestIDLen        = 512
)

var (
	protoHTTP  = []string{"http"}
	protoHTTPS = []string{"https"}
	emptyHdr   = []string{""}
)

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := requestID(r)
	w.Header()[hdrRequestID] = reqID

	snap := h.p.cfg.Holder.Load()
	var vpc *snapshot.VPC
	var svc *snapshot.Service
	if snap != nil {
		vpc = snap.VPCs[h.vpcID]
	}
	if vpc != nil {
		svc = lookupHost(vpc.Hosts, r.Host)
	}
	// The observation of the request (observe.go), when an Observer is
	// configured: on this stack, handed over by value when the response is
	// over, so that it costs the hot path no allocation.
	var ob reqObs
	if t := h.p.cfg.Tracer; t != nil {
		r = h.startTrace(t, r, &ob)
	}
	if h.p.cfg.Observer != nil || ob.span != nil {
		w = statsOf(w, r)
		defer h.finishObs(w, r, time.Now(), snap, vpc, svc, &ob) // also when the response is aborted
	}
	if vpc == nil {
		refuse(w, r, nil, refNoService, noServiceName(r.Host), h.vpcID)
		return
	}
	// The access log record, when the service or the network has
	// subscriptions or is tapped; nil otherwise (and nothing is spent on it).
	var rl *reqLog
	if wantsLog(h.p.cfg.AccessLog, vpc, svc) {
		rl = newReqLog(vpc, svc, reqID[0])
		w = rl.wrap(w, r)
		defer h.finishLog(w, r, rl) // also when the response is aborted (a panic on its way up)
		if cs := r.TLS; cs != nil {
			rl.e.ServerNameIndication = cs.ServerName
			rl.e.SSLCipher, rl.e.TLSVersion = tlsterm.CipherName(cs.CipherSuite), tlsterm.VersionName(cs.Version)
		}
		if ob.span != nil {
			rl.e.TraceID = ob.span.TraceID()
		}
	}
	// The one path of this request: normalised once, judged by the rules
	// and the policies, forwarded to the target and logged.
	target, perr := normalizeTarget(r)
	if perr != nil {
		refuse(w, r, rl, refBadPath, perr)
		return
	}
	if rl != nil {
		rl.target = target
	}
	if svc == nil {
		// Not a service this VPC reaches through its service network (the
		// double association), or no service at all: no target is dialed.
		refuse(w, r, rl, refNoService, noServiceName(r.Host), h.vpcID)
		return
	}
	lst := svc.Listeners[h.port]
	if lst == nil {
		refuse(w, r, rl, refNoListener, svc.Name, h.port)
		return
	}
	ob.lst = lst
	if rl != nil {
		rl.e.ListenerID, rl.e.ListenerType = lst.ID, lst.Protocol
	}
	// The listener's protocol is the connection's: an HTTPS listener
	// serves what came over TLS (terminated by the ingress) and a TLS
	// connection is for the service its SNI named, which Host must name too.
	if lst.Protocol != model.ProtocolHTTP && (r.TLS == nil || lst.Protocol != model.ProtocolHTTPS) {
		refuse(w, r, rl, refNeedsTLS, svc.Name, lst.Protocol, h.port)
		return
	}
	if r.TLS != nil && lookupHost(vpc.Hosts, r.TLS.ServerName) != svc {
		refuse(w, r, rl, refMisdirected, r.TLS.ServerName, noServiceName(r.Host))
		return
	}
	var id *snapshot.Identity
	if h.p.cfg.Auth != nil && auth.Needed(vpc, svc) {
		var peer netip.Addr
		if ci := h1.ConnInfoOf(r.Context()); ci != nil {
			peer = ci.Peer.Addr()
		} else if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
			peer = ap.Addr().Unmap()
		}
		o := h.p.cfg.Auth.Check(r.Context(), snap, vpc, svc, h.port, r, peer)
		ob.authCheck, ob.caller = true, o.Identity
		if !o.Allowed {
			ob.authDeny = o.Level
		}
		if rl != nil {
			rl.e.AuthChecked, rl.e.Caller = true, o.Identity
			if !o.Allowed {
				rl.e.AuthDeniedReason = o.Level
			}
		}
		if !o.Allowed {
			h.p.log.Debug("request denied", "vpc", vpc.ID, "service", svc.ID, "level", o.Level, "statement", o.Statement, "reason", o.Message)
			refuseStatus(w, r, rl, refDenied, o.Status, o.Message)
			return
		}
		id = o.Identity
	}
	rule := route.Match(lst, r)
	if rule == nil {
		refuse(w, r, rl, refNoRule, lst.ID)
		return
	}
	ob.rule = rule
	a := &rule.Action
	if a.FixedStatus != 0 {
		// Lattice sends a fixed response without a body.
		w.WriteHeader(a.FixedStatus)
		return
	}
	if r.Method == http.MethodConnect {
		// No tunnels through an HTTP listener.
		refuse(w, r, rl, refConnect)
		return
	}
	if a.TotalWeight <= 0 {
		refuse(w, r, rl, refZeroWeights, rule.ID)
		return
	}
	tg := route.PickGroup(a, rand.IntN(a.TotalWeight))
	if tg == nil {
		refuse(w, r, rl, refNoGroup)
		return
	}
	ob.tg = tg
	g := route.IsGRPCRequest(r)
	if rl != nil {
		rl.e.TargetGroupARN, rl.e.DestinationVPCID = tg.ARN, tg.VpcID
		rl.grpc = g || tg.ProtocolVersion == model.ProtocolVersionGRPC
	}
	// The request × protocol version matrix of Lattice (reference §6):
	// e.g. HTTP/1.1 cannot reach an HTTP2 or GRPC group, gRPC an HTTP1 one.
	if ok, why := route.Compatible(r.ProtoMajor, g, r.Method, tg.ProtocolVersion); !ok {
		refuse(w, r, rl, refIncompatible, why, tg.ID)
		return
	}
	if tg.Upstream == snapshot.UpstreamLambda {
		// A function instead of a connection: no retry loop (lambda.go).
		h.startObs(&ob, snap, svc, tg)
		if ob.span != nil {
			// The function's event carries the request's header: the
			// function gets the hop's traceparent like any target.
			r.Header[hdrTraceparent], r.Header[hdrTracestate] = ob.span.Upstream()
			if r.Header[hdrTracestate] == nil {
				delete(r.Header, hdrTracestate)
			}
		}
		c := &lambdaCall{snap: snap, vpc: vpc, svc: svc, tg: tg, reqID: reqID, id: id, target: target, rl: rl}
		h.serveLambda(w, r, c)
		ob.timedOut = c.timedOut
		return
	}
	tr, scheme := h.p.transport(tg)
	if tr == nil {
		// IP, INSTANCE and ALB groups all resolve to addresses: only their
		// protocol can leave them without a transport.
		switch tg.Type {
		case "", model.TargetGroupTypeIP, model.TargetGroupTypeInstance, model.TargetGroupTypeALB:
		default:
			refuse(w, r, rl, refTargetType, tg.Type, tg.ID)
			return
		}
		refuse(w, r, rl, refProtocol, tg.Protocol, tg.ID)
		return
	}
	fwd := h.forwardHeaders(r, vpc, svc, tg, reqID, id)
	fwd.reqTarget = target
	if ob.span != nil {
		fwd.traceparent, fwd.tracestate = ob.span.Upstream()
	}
	if r.Trailer != nil {
		filterTrailer(r.Trailer) // the names announced up front; the values are filtered again at the end
	}
	x := exchange{p: h.p, r: r, tg: tg, rl: rl, upgrade: wantsUpgrade(w, r, tg)}
	// HTTP/1.1 targets: the proxy's own client writes the client's header,
	// filtered, and fwd's fields without building a new map.
	if tr != h.p.h1 {
		fwd.apply(r.Header)
		if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			r.Body = &clientBody{ReadCloser: r.Body, r: r}
		}
		x.tr, x.scheme = tr, scheme
	}
	h.startObs(&ob, snap, svc, tg)
	h.p.forward(w, &x, &fwd)
	ob.timedOut, ob.target = x.timedOut, x.target
	if t := x.tunnel; t != nil {
		ob.tunnelled, ob.wsSent, ob.wsRecv = true, t.sent.Load(), t.received.Load()
	}
}

// transport returns the shared transport for tg's compiled upstream kind
// and the URL scheme to use with it, or nil for a kind HTTP cannot reach.
// Targets in a network other than the host's (Config.Net) get that
// network's transports.
func (p *Proxy) transport(tg *snapshot.TargetGroup) (*http.Transport, string) {
	switch tg.Upstream {
	case snapshot.UpstreamH1:
		// The proxy's own client: its pools are per network.
		return p.h1, "http"
	case snapshot.UpstreamH1TLS, snapshot.UpstreamH2C, snapshot.UpstreamH2TLS:
	default:
		return nil, "" // TCP, Lambda, and what no HTTP listener reaches
	}
	h2c, h2TLS, h1TLS := p.h2c, p.h2TLS, p.h1TLS
	if n := p.targetNet(tg); n != nil {
		t := p.netTransports(n)
		h2c, h2TLS, h1TLS = t.h2c, t.h2TLS, t.h1TLS
	}
	switch tg.Upstream {
	case snapshot.UpstreamH2C:
		return h2c, "http"
	case snapshot.UpstreamH2TLS:
		return h2TLS, "https"
	}
	return h1TLS, "https"
}

// lookupHost finds the service named by a Host header: lowercased, without
// port and trailing dot. It does not allocate for names up to 253 bytes.
func lookupHost(hosts snapshot.Table[*snapshot.Service], host string) *snapshot.Service {
	host = hostOnly(host)
	upper := false
	for i := 0; i < len(host); i++ {
		if c := host[i]; 'A' <= c && c <= 'Z' {
			upper = true
			break
		}
	}
	if !upper {
		return hosts.Get(host)
	}
	var buf [253]byte
	if len(host) > len(buf) {
		return hosts.Get(strings.ToLower(host))
	}
	b := buf[:len(host)]
	for i := 0; i < len(host); i++ {
		c := host[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	return hosts.GetBytes(b) // no allocation: see Table.GetBytes
}

// hostOnly strips the port (and IPv6 brackets) and a trailing dot.
func hostOnly(host string) string {
	if len(host) > 0 && host[0] == '[' {
		if i := strings.IndexByte(host, ']'); i > 0 {
			return host[1:i]
		}
		return host
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host, ':') == i {
		host = host[:i]
	}
	return strings.TrimSuffix(host, ".")
}

// textError answers a short plain-text error (the refusal table's rows,
// refusal.go).
func textError(w http.ResponseWriter, status int, msg string) {
	hd := w.Header()
	hd["Content-Type"] = textPlain
	hd["X-Content-Type-Options"] = nosniff
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg))
}

var (
	textPlain = []string{"text/plain; charset=utf-8"}
	nosniff   = []string{"nosniff"}
)

// requestID returns the X-Amzn-Requestid value: the client's (its first
// value, truncated to 512 bytes) or a new UUID-style one.
func requestID(r *http.Request) []string {
	if v := r.Header[hdrRequestID]; len(v) > 0 && v[0] != "" {
		if len(v) == 1 && len(v[0]) <= maxRequestIDLen {
			return v
		}
		id := v[0]
		if len(id) > maxRequestIDLen {
			id = id[:maxRequestIDLen]
		}
		return []string{id}
	}
	return newRequestID()
}

// requestIDBuf holds a generated request ID and the one-element header
// value naming it, in one allocation.
type requestIDBuf struct {
	v [1]string
	b [36]byte
}

// newRequestID returns a header value holding a new UUID.
func newRequestID() []string {
	p := new(requestIDBuf)
	fillUUID(&p.b)
	p.v[0] = unsafe.String(&p.b[0], len(p.b)) // p.b is never written again
	return p.v[:]
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var s [36]byte
	fillUUID(&s)
	return string(s[:])
}

// fillUUID writes a random (version 4) UUID. Request IDs need to be
// unique, not unpredictable, so the fast per-P generator is enough.
func fillUUID(s *[36]byte) {
	const hex = "0123456789abcdef"
	var u [16]byte
	a, b := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		u[i] = byte(a >> (8 * i))
		u[8+i] = byte(b >> (8 * i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j], s[j+1] = hex[c>>4], hex[c&0x0f]
		j += 2
	}
}

// fwdHeaders are the fields the target gets besides the client's own
// (whose hop-by-hop fields, X-Forwarded-* and X-Amzn-Lattice-* are not
// passed on). The slices are shared and read-only.
type fwdHeaders struct {
	xff, port, proto, network, target, reqID, sourceVpc []string
	identity, identityTags                              []string // nil for anonymous callers
	// The W3C trace context of the hop (trace.go), nil when the request
	// is not traced: the client's own fields then pass as they came.
	traceparent, tracestate []string
	// reqTarget is the origin-form request-target to send: the normalised
	// path and the client's query (normalizeTarget).
	reqTarget string

	// The same, for the own HTTP/1.1 client (h1Extra), kept here so that
	// they cost no allocation of their own.
	extra [11]h1.ExtraField
}

// h1Extra returns the fields the own HTTP/1.1 client writes after the
// client's own that pass (passRequestField), in a fixed order.
func (f *fwdHeaders) h1Extra() []h1.ExtraField {
	f.extra = [...]h1.ExtraField{{Name: hdrXFF, Values: f.xff}, {Name: hdrXFPort, Values: f.port},
		{Name: hdrXFProto, Values: f.proto}, {Name: hdrLatticeNetwork, Values: f.network},
		{Name: hdrLatticeTarget, Values: f.target}, {Name: hdrSourceVpc, Values: f.sourceVpc},
		{Name: hdrRequestID, Values: f.reqID}, {Name: hdrLatticeIdentity, Values: f.identity},
		{Name: hdrLatticeIdentityTags, Values: f.identityTags}, {Name: hdrTraceparent, Values: f.traceparent},
		{Name: hdrTracestate, Values: f.tracestate}}
	return f.extra[:]
}

// skipRequestField and skipTrailerField are the proxy's header policy as
// the HTTP/1.1 client takes it (h1.Client.Skip, SkipTrailer).
func skipRequestField(k string, conn []string) bool { return !passRequestField(k, conn) }
func skipTrailerField(k string) bool                { return !passTrailerField(k) }

// forwardHeaders returns the fields the proxy adds toward the target.
func (h *handler) forwardHeaders(r *http.Request, vpc *snapshot.VPC, svc *snapshot.Service, tg *snapshot.TargetGroup, reqID []string, id *snapshot.Identity) fwdHeaders {
	f := fwdHeaders{port: h.portHdr, proto: protoHTTP, network: h.networkHeader(vpc),
		target: h.targetHeader(vpc, svc, tg), reqID: reqID, sourceVpc: h.vpcHdr}
	if r.TLS != nil {
		f.proto = protoHTTPS
	}
	if ci := h1.ConnInfoOf(r.Context()); ci != nil && ci.PeerHeader != nil {
		f.xff = ci.PeerHeader // computed once per connection
	} else if ip := h1.ClientIP(r.RemoteAddr); ip != "" {
		f.xff = []string{ip}
	}
	if id != nil {
		// The caller's identity, when SigV4 authenticated it (§7.1).
		f.identity, f.identityTags = id.Header, id.TagsHeader
	}
	return f
}

// apply turns the client's header into the one the target gets, in place
// (the incoming request belongs to this handler): for the transports that
// take a header map.
func (f *fwdHeaders) apply(hd http.Header) {
	removeHopByHop(hd)
	if f.xff != nil {
		hd[hdrXFF] = f.xff
	} else {
		delete(hd, hdrXFF)
	}
	hd[hdrXFPort] = f.port
	hd[hdrXFProto] = f.proto
	hd[hdrLatticeNetwork] = f.network
	hd[hdrLatticeTarget] = f.target
	hd[hdrSourceVpc] = f.sourceVpc
	hd[hdrRequestID] = f.reqID
	if f.identity != nil {
		hd[hdrLatticeIdentity] = f.identity
		hd[hdrLatticeIdentityTags] = f.identityTags
	}
	if f.traceparent != nil {
		// Tracing replaces the client's trace context (startTrace removed
		// it): the target's parent is the hop's span.
		hd[hdrTraceparent] = f.traceparent
		if f.tracestate != nil {
			hd[hdrTracestate] = f.tracestate
		}
	}
	if _, ok := hd["User-Agent"]; !ok {
		// Keep the client's absence of a User-Agent (net/http would add one).
		hd["User-Agent"] = emptyHdr
	}
}

// passRequestField reports whether a client's header field goes on to the
// target as it is toward an HTTP/1.1 target, whose client writes the
// framing fields and the proxy's own itself: not dropped (dropField), not
// one of those. TE is handled by the caller.
func passRequestField(k string, conn []string) bool {
	switch k {
	case "Host", "Content-Length", "Expect", hdrXFF, hdrXFPort, hdrXFProto, hdrRequestID:
		return false
	}
	return !dropField(k, conn, true)
}

func (h *handler) networkHeader(vpc *snapshot.VPC) []string {
	if c := h.netHdr.Load(); c != nil && c.vpc == vpc {
		return c.v
	}
	c := &netHdrCache{vpc: vpc, v: []string{"SourceVpcArn=" + vpc.ARN}}
	h.netHdr.Store(c)
	return c.v
}

func (h *handler) targetHeader(vpc *snapshot.VPC, svc *snapshot.Service, tg *snapshot.TargetGroup) []string {
	sn := vpc.ServiceNetwork
	if c := h.targetHdr.Load(); c != nil && c.svc == svc && c.sn == sn && c.tg == tg {
		return c.v
	}
	snARN := ""
	if sn != nil {
		snARN = sn.ARN
	}
	c := &targetHdrCache{svc: svc, sn: sn, tg: tg,
		v: []string{"ServiceArn=" + svc.ARN + ";ServiceNetworkArn=" + snARN + ";TargetGroupArn=" + tg.ARN}}
	h.targetHdr.Store(c)
	return c.v
}

// dropField reports a header field a proxy does not pass on: the
// hop-by-hop fields of RFC 9110 §7.6.1 (Connection, Keep-Alive, Proxy-*,
// TE, Trailer, Transfer-Encoding, Upgrade, and what conn, the Connection
// values, lists); in a request also every client-sent field the data plane
// asserts itself (asserted). The one rule for both directions and every
// upstream transport.
func dropField(k string, conn []string, request bool) bool {
	switch k {
	case "Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	if strings.HasPrefix(k, "Proxy-") || (request && asserted(k)) {
		return true
	}
	return conn != nil && h1.HasToken(conn, k)
}

// asserted reports a request field only the data plane may write: every
// X-Amzn-Lattice-* field (identity, identity tags, network, target) and
// X-Amzn-Source-Vpc, in any letter case. A name holding '_' counts as the
// field it spells with '-' instead, whatever it is: CGI-style servers
// (PHP, WSGI, Rack, many frameworks) read both X_Amzn_Lattice_Identity and
// X-Amzn-Lattice-Identity as HTTP_X_AMZN_LATTICE_IDENTITY, so a client could
// otherwise smuggle a value in under a spelling the strip does not see.
// The underscore spellings of the X-Forwarded-* fields and of the request
// ID, which the data plane overwrites, go too (nginx drops every name with
// an underscore by default; Trellis drops only these).
func asserted(k string) bool {
	if len(k) >= len(latticePrefix) && foldDash(k[:len(latticePrefix)], latticePrefix) {
		return true
	}
	if foldDash(k, "x-amzn-source-vpc") {
		return true
	}
	if strings.IndexByte(k, '_') < 0 {
		return false
	}
	for _, a := range overwritten {
		if foldDash(k, a) {
			return true
		}
	}
	return false
}

const latticePrefix = "x-amzn-lattice-"

// overwritten are the fields the proxy writes itself whose dash spelling is
// replaced, not dropped (passRequestField, fwdHeaders.apply).
var overwritten = [...]string{"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-requestid"}

// foldDash reports whether k equals lower (lower case, '-' separated),
// ignoring ASCII case and reading '_' in k as '-'.
func foldDash(k, lower string) bool {
	if len(k) != len(lower) {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// passTrailerField reports whether a client's trailer field goes on to the
// target. Trailers arrive after the data plane judged the request, so
// nothing it asserts or judges may come in through them: not the fields a
// request drops (dropField), not those it overwrites, and none of the fields
// RFC 9110 §6.5.1 forbids in a trailer section — framing, routing,
// authentication, request modifiers and content metadata.
func passTrailerField(k string) bool {
	if dropField(k, nil, true) {
		return false
	}
	switch k {
	case "Host", "Content-Length", "Content-Type", "Content-Encoding", "Content-Range", "Content-Location",
		"Authorization", "Cookie", "Set-Cookie", "Expect", "Max-Forwards", "Pragma", "Range", "Cache-Control",
		"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range",
		hdrXFF, hdrXFPort, hdrXFProto, hdrRequestID, "X-Forwarded-Host", "Forwarded",
		"X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256", "X-Amz-Region-Set":
		return false
	}
	return h1.IsToken(k)
}

// filterTrailer deletes from t, in place, what passTrailerField refuses.
func filterTrailer(t http.Header) {
	for k := range t {
		if !passTrailerField(k) {
			delete(t, k)
		}
	}
}

// removeHopByHop deletes from a request header what dropField drops,
// keeping "TE: trailers", which a request may carry to the target.
func removeHopByHop(hd http.Header) {
	conn, te := hd["Connection"], hd["Te"]
	for k := range hd {
		if dropField(k, conn, true) {
			delete(hd, k)
		}
	}
	if h1.HasToken(te, "trailers") {
		hd["Te"] = teTrailers
	}
}

var teTrailers = []string{"trailers"}

// clientBody is the client's request body on its way to a target through a
// net/http transport (the own HTTP/1.1 client does the same as it writes).
// Trailers are filled in when the body ends: it filters them then, before
// the transport writes them. A failure to read the body is marked as the
// client's (h1.ClientBodyError), so the answer blames the client.
type clientBody struct {
	io.ReadCloser
	r *http.Request
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		if b.r.Trailer != nil {
			filterTrailer(b.r.Trailer)
		}
	} else if err != nil {
		err = &h1.ClientBodyError{Err: err}
	}
	return n, err
}

// normalizeTarget normalises the request's path once, at the ingress
// (pathnorm, docs/path-normalisation.md): r.URL.Path becomes the decoded
// normal path that rules and policies judge, r.URL.RawPath its escaped form,
// and the returned origin-form target (normal path and the query as sent)
// is what the target receives and the access log records. r.RequestURI
// keeps the target exactly as sent: a SigV4 signature covers those bytes.
// A path that no normal form can stand for is an error (400).
func normalizeTarget(r *http.Request) (string, error) {
	raw := r.RequestURI
	if raw == "" {
		raw = r.URL.RequestURI() // a request made in-process
	}
	if r.Method == http.MethodConnect {
		return raw, nil // authority-form; refused once routed (405)
	}
	if raw == "*" && r.Method != http.MethodOptions {
		return "", errAsterisk
	}
	forward, path, err := pathnorm.Target(raw)
	if err != nil {
		return "", err
	}
	escaped := forward
	if i := strings.IndexByte(escaped, '?'); i >= 0 {
		escaped = escaped[:i]
	}
	if r.URL.Path != path || (r.URL.RawPath != "" && r.URL.RawPath != escaped) {
		// The transports that take a URL send RawPath when it is a valid
		// encoding of Path: this one.
		r.URL.Path, r.URL.RawPath = path, escaped
	}
	return forward, nil
}

var errAsterisk = errors.New("the asterisk-form request target is for OPTIONS only")
