package metrics

import (
	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// DNS counts the VPC resolvers' answers (dns.Config.OnQuery).
type DNS struct {
	// queries by source (0 own, 1 forwarded) and rcode (dnsRcodes' index;
	// the last is every other rcode), resolved once: a query costs an
	// atomic add.
	queries [2][len(dnsRcodes) + 1]prometheus.Counter
}

// dnsRcodes are the rcodes the resolvers answer with (answer.go) or an
// upstream commonly does.
var dnsRcodes = [...]int{mdns.RcodeSuccess, mdns.RcodeFormatError, mdns.RcodeServerFailure, mdns.RcodeNameError,
	mdns.RcodeNotImplemented, mdns.RcodeRefused, mdns.RcodeBadVers}

func newDNS(reg prometheus.Registerer) *DNS {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "dns_queries_total",
		Help: "DNS queries answered by the VPC resolvers, by rcode and source (own: from the snapshot; forwarded: by an upstream)."},
		[]string{"rcode", "source"})
	reg.MustRegister(v)
	d := &DNS{}
	for s, source := range []string{"own", "forwarded"} {
		for i, rc := range dnsRcodes {
			d.queries[s][i] = v.WithLabelValues(mdns.RcodeToString[rc], source)
		}
		d.queries[s][len(dnsRcodes)] = v.WithLabelValues("OTHER", source)
	}
	return d
}

// ObserveQuery records one answer; its signature is dns.Config.OnQuery.
func (d *DNS) ObserveQuery(rcode int, forwarded bool) {
	s := 0
	if forwarded {
		s = 1
	}
	i := len(dnsRcodes)
	for j, rc := range dnsRcodes {
		if rc == rcode {
			i = j
			break
		}
	}
	d.queries[s][i].Inc()
}
