package metrics

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trellis-net/trellis/internal/dataplane/ingress"
	"github.com/trellis-net/trellis/internal/dataplane/proxy"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// Label names of the connection series.
const (
	labelVPC      = "vpc"
	labelPort     = "port"
	labelProtocol = "protocol"
	labelResult   = "result"
)

// connProtos are the protocol label values by ingress.ConnProto.
var connProtos = [...]ingress.ConnProto{ingress.ProtoNone, ingress.ProtoHTTP1, ingress.ProtoHTTP2, ingress.ProtoPassthrough}

// dialResults are the result label values by proxy.DialResult.
var dialResults = [...]string{proxy.DialConnected: "connected", proxy.DialFailed: "error", proxy.DialTimedOut: "timeout"}

// Conns counts connections: the clients' to the ingress sockets (it is the
// ingress's ConnObserver) and the proxy's to targets (the proxy's
// TargetConnObserver). Lattice's connection metrics (reference §7.6) are
// target-group ones; a client connection is attributed to a socket (VPC,
// port), and its TLS handshake to the service its SNI names, because
// that is all a connection knows before its first request
// (docs/metrics.md).
type Conns struct {
	conns      *prometheus.CounterVec
	active     *prometheus.GaugeVec
	handshakes *prometheus.CounterVec
	targets    *prometheus.CounterVec

	mu      sync.Mutex
	sockets map[sockID]*sockConns
	// tgs are the handles of target groups by ID, resolved on a group's
	// first dial and deleted with the group (Bind).
	tgMu sync.RWMutex
	tgs  map[string]*[len(dialResults)]prometheus.Counter
}

var (
	_ ingress.ConnObserver     = (*Conns)(nil)
	_ proxy.TargetConnObserver = (*Conns)(nil)
)

type sockID struct {
	vpc  string
	port int
}

func newConns(reg prometheus.Registerer) *Conns {
	sock := []string{labelVPC, labelPort}
	c := &Conns{
		conns: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "connections_total",
			Help: "Client connections served by an ingress socket, by the protocol they carried: http1, http2, passthrough, or none (closed before: a failed TLS handshake) (Lattice TotalConnectionCount, HTTP1_ConnectionCount, HTTP2_ConnectionCount)."},
			[]string{labelVPC, labelPort, labelProtocol}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "active_connections",
			Help: "Client connections open on an ingress socket (Lattice ActiveConnectionCount)."}, sock),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "tls_handshakes_total",
			Help: "TLS handshakes terminated by an ingress socket, by the service the SNI names (\"\" for none) and result ok or error (Lattice TotalTLSConnectionHandshakeCount, TLSConnectionErrorCount)."},
			[]string{labelVPC, labelPort, labelService, labelResult}),
		targets: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "target_connections_total",
			Help: "Connections the data plane opened to a target group's targets, by result: connected, error, timeout (Lattice ConnectionErrorCount, ConnectionTimeoutCount)."},
			[]string{labelTargetGroup, labelResult}),
		sockets: map[sockID]*sockConns{},
		tgs:     map[string]*[len(dialResults)]prometheus.Counter{},
	}
	reg.MustRegister(c.conns, c.active, c.handshakes, c.targets)
	return c
}

// sockConns are the handles of one socket (VPC, port), shared by the
// sockets that serve it (a draining one and its successor).
type sockConns struct {
	c      *Conns
	id     sockID
	port   string
	refs   int // guarded by c.mu
	protos [len(connProtos)]prometheus.Counter
	active prometheus.Gauge

	mu  sync.RWMutex
	tls map[string]*[2]prometheus.Counter // by service ID: [0] error, [1] ok
}

// Socket implements ingress.ConnObserver: the socket's handles, resolved
// now, so that a connection costs atomic adds only.
func (c *Conns) Socket(vpcID string, port int) ingress.SocketConns {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := sockID{vpcID, port}
	s := c.sockets[id]
	if s == nil {
		s = &sockConns{c: c, id: id, port: strconv.Itoa(port), tls: map[string]*[2]prometheus.Counter{}}
		for i, p := range connProtos {
			s.protos[i] = c.conns.WithLabelValues(vpcID, s.port, p.String())
		}
		s.active = c.active.WithLabelValues(vpcID, s.port)
		c.sockets[id] = s
	}
	s.refs++
	return s
}

func (s *sockConns) Opened() { s.active.Inc() }
func (s *sockConns) Closed() { s.active.Dec() }

func (s *sockConns) Protocol(p ingress.ConnProto) {
	if int(p) < len(s.protos) {
		s.protos[p].Inc()
	}
}

// TLSHandshake implements ingress.SocketConns. The service label comes
// from the snapshot (an ID the VPC reaches, or ""), never from the client:
// its values are bounded by the services.
func (s *sockConns) TLSHandshake(serviceID string, ok bool) {
	s.mu.RLock()
	h := s.tls[serviceID]
	s.mu.RUnlock()
	if h == nil {
		s.mu.Lock()
		if h = s.tls[serviceID]; h == nil {
			h = &[2]prometheus.Counter{
				s.c.handshakes.WithLabelValues(s.id.vpc, s.port, serviceID, "error"),
				s.c.handshakes.WithLabelValues(s.id.vpc, s.port, serviceID, "ok"),
			}
			s.tls[serviceID] = h
		}
		s.mu.Unlock()
	}
	if ok {
		h[1].Inc()
	} else {
		h[0].Inc()
	}
}

// Done implements ingress.SocketConns: the last socket of (VPC, port)
// gone, its series are deleted.
func (s *sockConns) Done() {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.refs--; s.refs > 0 || c.sockets[s.id] != s {
		return
	}
	delete(c.sockets, s.id)
	c.conns.DeletePartialMatch(prometheus.Labels{labelVPC: s.id.vpc, labelPort: s.port})
	c.active.DeleteLabelValues(s.id.vpc, s.port)
	c.handshakes.DeletePartialMatch(prometheus.Labels{labelVPC: s.id.vpc, labelPort: s.port})
}

// TargetConn implements proxy.TargetConnObserver.
func (c *Conns) TargetConn(tg *snapshot.TargetGroup, r proxy.DialResult) {
	if int(r) >= len(dialResults) {
		return
	}
	c.tgMu.RLock()
	h := c.tgs[tg.ID]
	c.tgMu.RUnlock()
	if h == nil {
		c.tgMu.Lock()
		if h = c.tgs[tg.ID]; h == nil {
			h = new([len(dialResults)]prometheus.Counter)
			for i, res := range dialResults {
				h[i] = c.targets.WithLabelValues(tg.ID, res)
			}
			c.tgs[tg.ID] = h
		}
		c.tgMu.Unlock()
	}
	h[r].Inc()
}

// bind deletes the target connection series of the groups snap no longer
// has (called with every published snapshot, DataPlane.Bind).
func (c *Conns) bind(snap *snapshot.Snapshot) {
	c.tgMu.Lock()
	defer c.tgMu.Unlock()
	for id := range c.tgs {
		if snap.TargetGroups.Get(id) == nil {
			delete(c.tgs, id)
			c.targets.DeletePartialMatch(prometheus.Labels{labelTargetGroup: id})
		}
	}
}
