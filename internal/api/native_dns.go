package api

import (
	"context"
	"net/http"

	mdns "github.com/miekg/dns"

	"github.com/trellis-net/trellis/internal/model"
)

// DNS of the VPCs: the dnsAddress of GET /trellis/v1/vpcs/{vpcId} and GET
// /trellis/v1/dns/lookup?vpc=VPC&name=NAME (`trellis dns lookup`). The
// answers come from the data plane, handed in by app (SetDNS): the API does
// not know the snapshot.

// DNSLookupFunc says what the resolver of VPC vpcID answers for name, and
// why; it is called only after the caller was allowed to see the VPC. It
// returns a model error (NotFound when the data plane does not know the
// VPC yet) or a JSON-encodable result.
type DNSLookupFunc func(ctx context.Context, vpcID, name string) (any, error)

type dnsHooks struct {
	address func(*model.VPC) string
	lookup  DNSLookupFunc
}

// SetDNS tells the API where each VPC's DNS listens (address returns "" for
// a VPC without one; the port is serve's --dns-port) and how to look names
// up. Without it VPCs have no dnsAddress and the lookup endpoint is absent.
// Call it before serving.
func (s *Server) SetDNS(address func(*model.VPC) string, lookup DNSLookupFunc) {
	s.dns = dnsHooks{address: address, lookup: lookup}
	s.native.Handle("GET "+NativePrefix+"dns/lookup", s.nativeHandler(func(r *http.Request, _ []byte) (int, any, error) {
		q := r.URL.Query()
		vpcID, name := q.Get("vpc"), q.Get("name")
		if vpcID == "" {
			return 0, nil, model.Invalid("vpc", "vpc is required: the VPC whose resolver answers")
		}
		// RFC 1035 §2.3.4: at most 255 octets on the wire, 253 as text.
		if _, ok := mdns.IsDomainName(name); !ok || name == "" || len(name) > 253 {
			return 0, nil, model.Invalid("name", "name must be a domain name of at most 253 characters")
		}
		// The same visibility as GET /trellis/v1/vpcs/{vpcId}.
		if _, err := s.svc.GetVPC(r.Context(), vpcID); err != nil {
			return 0, nil, err
		}
		out, err := lookup(r.Context(), vpcID, name)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, out, nil
	}))
}

// withDNSAddress adds dnsAddress to a VPC's wire object when it has a DNS.
func (s *Server) withDNSAddress(o obj, v *model.VPC) obj {
	if s.dns.address != nil {
		if a := s.dns.address(v); a != "" {
			o["dnsAddress"] = a
		}
	}
	return o
}
