package accesslog

import (
	"net/netip"
	"time"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// ResourceEntry is one TCP connection to a resource configuration, logged
// as a VpcLatticeResourceAccessLogs record (reference §7.5) to the RESOURCE
// subscriptions of the network it went through. Empty values are "-".
type ResourceEntry struct {
	// Start is when the connection was accepted (eventTimestamp).
	Start                    time.Time
	ServiceNetworkARN        string
	AssociationID            string // serviceNetworkResourceAssociationId
	SourceVPCARN             string
	ResourceConfigurationARN string
	Source                   netip.AddrPort // the client
	Destination              netip.AddrPort // the resource configuration's address in the client VPC and the port it connected to
	Gateway                  netip.AddrPort // the local end of the connection to the resource
	Resource                 netip.AddrPort // the resource's address and port; zero when none was reached
}

// AppendResourceJSON appends e as one VpcLatticeResourceAccessLogs JSON
// object, in the reference's field order. vpcEndpointId is always "-":
// Trellis reaches resources through VPC associations, never VPC endpoints
// (docs/resources.md).
func AppendResourceJSON(dst []byte, e *ResourceEntry) []byte {
	dst = append(dst, `{"eventTimestamp":`...)
	dst = appendTime(dst, e.Start)
	dst = append(dst, `,"serviceNetworkArn":`...)
	dst = appendString(dst, e.ServiceNetworkARN)
	dst = append(dst, `,"serviceNetworkResourceAssociationId":`...)
	dst = appendString(dst, e.AssociationID)
	dst = append(dst, `,"vpcEndpointId":`...)
	dst = append(dst, dash...)
	dst = append(dst, `,"sourceVpcArn":`...)
	dst = appendString(dst, e.SourceVPCARN)
	dst = append(dst, `,"resourceConfigurationArn":`...)
	dst = appendString(dst, e.ResourceConfigurationARN)
	dst = append(dst, `,"protocol":"tcp","sourceIpPort":`...)
	dst = appendAddrPort(dst, e.Source)
	dst = append(dst, `,"destinationIpPort":`...)
	dst = appendAddrPort(dst, e.Destination)
	dst = append(dst, `,"gatewayIpPort":`...)
	dst = appendAddrPort(dst, e.Gateway)
	dst = append(dst, `,"resourceIpPort":`...)
	dst = appendAddrPort(dst, e.Resource)
	return append(dst, '}')
}

// LogResource writes one resource connection record to every subscription
// in subs (a network's ResourceAccessLogs), buffered as Log's records are,
// and to the live taps of the network (`trellis logs tail
// --service-network`: its owner follows requests and resource connections
// alike).
func (l *Logger) LogResource(e *ResourceEntry, subs []*snapshot.LogSubscription) {
	if l.closed.Load() {
		return
	}
	tapped := l.taps.Tapped("", e.ServiceNetworkARN)
	if len(subs) == 0 && !tapped {
		return
	}
	bp := l.lines.Get().(*[]byte)
	line := append(AppendResourceJSON((*bp)[:0], e), '\n')
	if len(subs) > 0 {
		routes := *l.routes.Load()
		for _, sub := range subs {
			l.deliver(routes, sub, line)
		}
	}
	if tapped {
		l.taps.publishTo(line, "", e.ServiceNetworkARN)
	}
	if cap(line) <= maxLine {
		*bp = line
		l.lines.Put(bp)
	}
}
