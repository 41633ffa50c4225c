package dns

import (
	"log/slog"
	"net"
	"sync"

	mdns "github.com/miekg/dns"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// ednsSize is the UDP payload size this server advertises in its OPT
// record: 1232 bytes, the DNS Flag Day 2020 value that avoids IP
// fragmentation on any path.
const ednsSize = 1232

// answerer answers queries from the current snapshot.
type answerer struct {
	holder    *snapshot.Holder
	ttl       uint32
	upstreams []string
	udp, tcp  *mdns.Client
	log       *slog.Logger
	onQuery   func(rcode int, forwarded bool) // Config.OnQuery
}

// vpcHandler serves one VPC's sockets: the socket says which VPC asks.
type vpcHandler struct {
	a   *answerer
	vpc string
}

// Verdict is how a name is answered in a VPC.
type Verdict int

// Verdicts.
const (
	// Reachable: a service of the VPC's service network; A/AAAA with the
	// VPC's ingress address.
	Reachable Verdict = iota
	// NotReachable: a name Trellis owns (a service's name, or under the
	// Lattice zone) that the VPC does not reach: NXDOMAIN.
	NotReachable
	// Forward: a name Trellis does not own: the upstream resolvers'.
	Forward
)

// classify decides how vpc answers name (lowercased, fully qualified).
// name is bytes so that the hot path lowercases into a stack buffer: map
// lookups with string(name) do not allocate.
func classify(snap *snapshot.Snapshot, vpc *snapshot.VPC, name []byte) (Verdict, *snapshot.DNSRecord) {
	if r := vpc.DNS.GetBytes(name); r != nil {
		return Reachable, r
	}
	// The names of the resource configurations the VPC reaches (after the
	// services': a service's name wins).
	if r := vpc.ResourceDNS.GetBytes(name); r != nil {
		return Reachable, r
	}
	// A service's or a resource association's name the VPC does not
	// reach, or any name under Lattice's zones: NXDOMAIN, never forwarded
	// (the public resolvers' answer would be wrong).
	if snap.ServiceNames.GetBytes(name) != nil || inZone(name, snap.DNSZone) ||
		snap.ResourceNames.GetBytes(name) != "" || inZone(name, snap.ResourceDNSZone) {
		return NotReachable, nil
	}
	return Forward, nil
}

// inZone reports whether name is zone or below it (both fully qualified
// and lowercased).
func inZone(name []byte, zone string) bool {
	if zone == "" || len(name) < len(zone) {
		return false
	}
	tail := name[len(name)-len(zone):]
	if string(tail) != zone {
		return false
	}
	return len(name) == len(zone) || name[len(name)-len(zone)-1] == '.'
}

// lowerFQDN appends name to dst lowercased (ASCII, RFC 4343), with the
// trailing dot of a fully qualified name.
func lowerFQDN(dst []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	if len(name) == 0 || name[len(name)-1] != '.' {
		dst = append(dst, '.')
	}
	return dst
}

// ServeDNS answers one query. A query that cannot be parsed never gets
// here (the server drops it, or answers FORMERR for a bad header).
func (h *vpcHandler) ServeDNS(w mdns.ResponseWriter, req *mdns.Msg) {
	_, udp := w.RemoteAddr().(*net.UDPAddr)
	r := replies.Get().(*reply)
	defer r.release()
	if h.a.answer(h.vpc, req, r) {
		m := h.a.forward(req, udp)
		if udp {
			// RFC 6891 §6.2.5 / RFC 1035 §4.2.1: what does not fit the
			// client's buffer is cut at a record boundary and marked TC;
			// the client retries over TCP, which carries the whole answer.
			m.Truncate(udpSize(req))
		}
		_ = w.WriteMsg(m)
		if f := h.a.onQuery; f != nil {
			f(m.Rcode, true)
		}
		return
	}
	if f := h.a.onQuery; f != nil {
		f(r.m.Rcode, false)
	}
	// Our own answers always fit 512 bytes (see Compress in answer), so
	// they are not measured: that would cost a third of a query's CPU.
	// WriteMsg packs the message before it returns, so r is free after.
	_ = w.WriteMsg(&r.m)
}

// reply is an answer message with room for everything an own answer
// holds, reused through replies so that answering allocates nothing of
// its own.
type reply struct {
	m mdns.Msg
	q [1]mdns.Question
	// One record at most in each section: Answer, Ns, Extra (OPT).
	ans, ns, extra [1]mdns.RR
	a              mdns.A
	aaaa           mdns.AAAA
	soa            mdns.SOA
	opt            mdns.OPT
	ip             [16]byte
}

var replies = sync.Pool{New: func() any { return new(reply) }}

// release clears r (no reference to a query or snapshot stays) and
// returns it to the pool.
func (r *reply) release() {
	*r = reply{}
	replies.Put(r)
}

// udpSize is the client's UDP buffer: its OPT record's size, at least 512
// (RFC 6891 §6.2.5), or 512 without EDNS0.
func udpSize(req *mdns.Msg) int {
	if o := req.IsEdns0(); o != nil {
		return max(int(o.UDPSize()), mdns.MinMsgSize)
	}
	return mdns.MinMsgSize
}

// answer fills r with the answer to req asked in vpcID, or returns true
// when req must be forwarded instead.
func (a *answerer) answer(vpcID string, req *mdns.Msg, r *reply) (forward bool) {
	m := &r.m
	// SetReply, without its allocation of the question section.
	m.Id, m.Response, m.Opcode, m.Rcode = req.Id, true, req.Opcode, mdns.RcodeSuccess
	if req.Opcode == mdns.OpcodeQuery {
		m.RecursionDesired, m.CheckingDisabled = req.RecursionDesired, req.CheckingDisabled
	}
	if len(req.Question) > 0 {
		r.q[0] = req.Question[0]
		m.Question = r.q[:]
	}
	// Uncompressed, an own answer is at most 2n+105 bytes for a question
	// name of n bytes (header 12, question n+4, an SOA record n+78, OPT 11):
	// within 512 up to n = 203. Longer names are compressed (RFC 1035
	// §4.1.4), which keeps them within 512 too; compressing costs CPU.
	m.Compress = len(req.Question) > 0 && len(req.Question[0].Name) > 200
	m.RecursionAvailable = len(a.upstreams) > 0
	if opt := req.IsEdns0(); opt != nil {
		// RFC 6891 §7: a responder that supports EDNS0 includes an OPT
		// record in its response; version 0 is the only one (BADVERS else).
		r.opt.Hdr = mdns.RR_Header{Name: ".", Rrtype: mdns.TypeOPT}
		r.opt.SetUDPSize(ednsSize)
		if opt.Do() {
			r.opt.SetDo()
		}
		r.extra[0] = &r.opt
		m.Extra = r.extra[:]
		if opt.Version() != 0 {
			r.opt.SetExtendedRcode(mdns.RcodeBadVers)
			m.Rcode = mdns.RcodeBadVers
			return false
		}
	}
	if req.Opcode != mdns.OpcodeQuery {
		m.Rcode = mdns.RcodeNotImplemented
		return false
	}
	// RFC 9619: QDCOUNT must be 1 for a QUERY.
	if len(req.Question) != 1 {
		m.Rcode = mdns.RcodeFormatError
		return false
	}
	q := req.Question[0]
	snap := a.holder.Load()
	var vpc *snapshot.VPC
	if snap != nil {
		vpc = snap.VPCs[vpcID]
	}
	if vpc == nil || (q.Qclass != mdns.ClassINET && q.Qclass != mdns.ClassANY) {
		m.Rcode = mdns.RcodeRefused
		return false
	}
	// A wire name is at most 255 bytes (RFC 1035 §3.1); a longer one (only
	// from a hand-built message) spills to the heap, which is fine.
	var buf [256]byte
	name := lowerFQDN(buf[:0], q.Name)
	verdict, rec := classify(snap, vpc, name)
	switch verdict {
	case Forward:
		if len(a.upstreams) == 0 {
			m.Rcode = mdns.RcodeRefused
			return false
		}
		return true
	case NotReachable:
		m.Authoritative = true
		m.Rcode = mdns.RcodeNameError
		m.Ns = a.soa(snap, q.Name, name, r)
		return false
	}
	m.Authoritative = true
	hdr := mdns.RR_Header{Name: q.Name, Class: mdns.ClassINET, Ttl: a.ttl}
	switch {
	case rec.Addr.Is4() && (q.Qtype == mdns.TypeA || q.Qtype == mdns.TypeANY):
		hdr.Rrtype = mdns.TypeA
		b := rec.Addr.As4()
		copy(r.ip[:], b[:])
		r.a = mdns.A{Hdr: hdr, A: r.ip[:4]}
		r.ans[0] = &r.a
		m.Answer = r.ans[:]
	case rec.Addr.Is6() && (q.Qtype == mdns.TypeAAAA || q.Qtype == mdns.TypeANY):
		hdr.Rrtype = mdns.TypeAAAA
		r.ip = rec.Addr.As16()
		r.aaaa = mdns.AAAA{Hdr: hdr, AAAA: r.ip[:]}
		r.ans[0] = &r.aaaa
		m.Answer = r.ans[:]
	default:
		// NODATA (RFC 2308 §2.2): the name exists, not with this type.
		m.Ns = a.soa(snap, q.Name, name, r)
	}
	return false
}

// soa is the authority section of a negative answer, whose MINIMUM and
// TTL bound how long it is cached (RFC 2308 §5): the Lattice zone for
// names under it, else the name itself as asked (a custom domain is its
// own apex here); lower is the name lowercased.
func (a *answerer) soa(snap *snapshot.Snapshot, name string, lower []byte, r *reply) []mdns.RR {
	zone := name
	if inZone(lower, snap.DNSZone) {
		zone = snap.DNSZone
	}
	r.soa = mdns.SOA{Hdr: mdns.RR_Header{Name: zone, Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: a.ttl},
		Ns: "ns.trellis.invalid.", Mbox: "hostmaster.trellis.invalid.", Serial: uint32(snap.Revision),
		Refresh: 3600, Retry: 600, Expire: 86400, Minttl: a.ttl}
	r.ns[0] = &r.soa
	return r.ns[:]
}

// forward asks the upstream resolvers in order, over the transport the
// client used (a truncated UDP answer is passed on truncated, so the client
// retries over TCP, and then so do we). Every upstream failing is SERVFAIL.
func (a *answerer) forward(req *mdns.Msg, udp bool) *mdns.Msg {
	c := a.tcp
	if udp {
		c = a.udp
	}
	for _, up := range a.upstreams {
		r, _, err := c.Exchange(req, up)
		if err != nil {
			a.log.Debug("dns: upstream failed", "upstream", up, "err", err)
			continue
		}
		r.Id = req.Id
		return r
	}
	m := new(mdns.Msg)
	m.SetRcode(req, mdns.RcodeServerFailure)
	m.RecursionAvailable = true
	if o := req.IsEdns0(); o != nil {
		m.SetEdns0(ednsSize, o.Do())
	}
	return m
}
