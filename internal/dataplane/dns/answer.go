package dns

import (
	"log/slog"
	"net"
	"strings"

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

// classify decides how vpc answers name (lowercased, fully qualified). It
// does not allocate.
func classify(snap *snapshot.Snapshot, vpc *snapshot.VPC, name string) (Verdict, *snapshot.DNSRecord) {
	if r := vpc.DNS[name]; r != nil {
		return Reachable, r
	}
	if snap.ServiceNames[name] != nil || inZone(name, snap.DNSZone) {
		return NotReachable, nil
	}
	return Forward, nil
}

// inZone reports whether name is zone or below it (both fully qualified
// and lowercased).
func inZone(name, zone string) bool {
	return zone != "" && (name == zone || (len(name) > len(zone) && name[len(name)-len(zone)-1] == '.' && strings.HasSuffix(name, zone)))
}

// ServeDNS answers one query. A query that cannot be parsed never gets
// here (the server drops it, or answers FORMERR for a bad header).
func (h *vpcHandler) ServeDNS(w mdns.ResponseWriter, req *mdns.Msg) {
	_, udp := w.RemoteAddr().(*net.UDPAddr)
	m, fwd := h.a.answer(h.vpc, req)
	if fwd {
		m = h.a.forward(req, udp)
		if udp {
			// RFC 6891 §6.2.5 / RFC 1035 §4.2.1: what does not fit the
			// client's buffer is cut at a record boundary and marked TC;
			// the client retries over TCP, which carries the whole answer.
			m.Truncate(udpSize(req))
		}
	}
	// Our own answers always fit 512 bytes (see Compress in answer), so
	// they are not measured: that would cost a third of a query's CPU.
	_ = w.WriteMsg(m)
}

// udpSize is the client's UDP buffer: its OPT record's size, at least 512
// (RFC 6891 §6.2.5), or 512 without EDNS0.
func udpSize(req *mdns.Msg) int {
	if o := req.IsEdns0(); o != nil {
		return max(int(o.UDPSize()), mdns.MinMsgSize)
	}
	return mdns.MinMsgSize
}

// answer makes the answer to req asked in vpcID; forward is true when it
// must be forwarded instead (m is nil then).
func (a *answerer) answer(vpcID string, req *mdns.Msg) (m *mdns.Msg, forward bool) {
	m = new(mdns.Msg)
	m.SetReply(req)
	// Uncompressed, an own answer is at most 2n+105 bytes for a question
	// name of n bytes (header 12, question n+4, an SOA record n+78, OPT 11):
	// within 512 up to n = 203. Longer names are compressed (RFC 1035
	// §4.1.4), which keeps them within 512 too; compressing costs CPU.
	m.Compress = len(req.Question) > 0 && len(req.Question[0].Name) > 200
	m.RecursionAvailable = len(a.upstreams) > 0
	opt := req.IsEdns0()
	if opt != nil {
		// RFC 6891 §7: a responder that supports EDNS0 includes an OPT
		// record in its response; version 0 is the only one (BADVERS else).
		ro := m.SetEdns0(ednsSize, opt.Do()).IsEdns0()
		if opt.Version() != 0 {
			ro.SetExtendedRcode(mdns.RcodeBadVers)
			m.Rcode = mdns.RcodeBadVers
			return m, false
		}
	}
	if req.Opcode != mdns.OpcodeQuery {
		m.Rcode = mdns.RcodeNotImplemented
		return m, false
	}
	// RFC 9619: QDCOUNT must be 1 for a QUERY.
	if len(req.Question) != 1 {
		m.Rcode = mdns.RcodeFormatError
		return m, false
	}
	q := req.Question[0]
	snap := a.holder.Load()
	var vpc *snapshot.VPC
	if snap != nil {
		vpc = snap.VPCs[vpcID]
	}
	if vpc == nil || (q.Qclass != mdns.ClassINET && q.Qclass != mdns.ClassANY) {
		m.Rcode = mdns.RcodeRefused
		return m, false
	}
	name := snapshot.DNSFQDN(q.Name)
	verdict, rec := classify(snap, vpc, name)
	switch verdict {
	case Forward:
		if len(a.upstreams) == 0 {
			m.Rcode = mdns.RcodeRefused
			return m, false
		}
		return nil, true
	case NotReachable:
		m.Authoritative = true
		m.Rcode = mdns.RcodeNameError
		m.Ns = []mdns.RR{a.soa(snap, name)}
		return m, false
	}
	m.Authoritative = true
	hdr := mdns.RR_Header{Name: q.Name, Class: mdns.ClassINET, Ttl: a.ttl}
	switch {
	case rec.Addr.Is4() && (q.Qtype == mdns.TypeA || q.Qtype == mdns.TypeANY):
		hdr.Rrtype = mdns.TypeA
		m.Answer = []mdns.RR{&mdns.A{Hdr: hdr, A: rec.Addr.AsSlice()}}
	case rec.Addr.Is6() && (q.Qtype == mdns.TypeAAAA || q.Qtype == mdns.TypeANY):
		hdr.Rrtype = mdns.TypeAAAA
		m.Answer = []mdns.RR{&mdns.AAAA{Hdr: hdr, AAAA: rec.Addr.AsSlice()}}
	default:
		// NODATA (RFC 2308 §2.2): the name exists, not with this type.
		m.Ns = []mdns.RR{a.soa(snap, name)}
	}
	return m, false
}

// soa is the authority record of a negative answer, whose MINIMUM and TTL
// bound how long it is cached (RFC 2308 §5): the Lattice zone for names
// under it, else the name itself (a custom domain is its own apex here).
func (a *answerer) soa(snap *snapshot.Snapshot, name string) *mdns.SOA {
	zone := name
	if inZone(name, snap.DNSZone) {
		zone = snap.DNSZone
	}
	return &mdns.SOA{Hdr: mdns.RR_Header{Name: zone, Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: a.ttl},
		Ns: "ns.trellis.invalid.", Mbox: "hostmaster.trellis.invalid.", Serial: uint32(snap.Revision),
		Refresh: 3600, Retry: 600, Expire: 86400, Minttl: a.ttl}
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
