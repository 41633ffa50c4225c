package snapshot

import "github.com/trellis-net/trellis/internal/model"

// Upstream is how the data plane reaches the targets of a target group,
// settled once when the snapshot is compiled (from the group's type,
// protocol and protocol version), so the request path switches on one
// small integer instead of comparing strings per request.
type Upstream uint8

// The upstream kinds. The zero value is a group no HTTP listener can
// forward to (an unknown type or protocol).
const (
	UpstreamUnsupported Upstream = iota
	UpstreamH1                   // HTTP/1.1 in cleartext (protocol HTTP, version HTTP1)
	UpstreamH1TLS                // HTTP/1.1 over TLS (protocol HTTPS, version HTTP1)
	UpstreamH2C                  // HTTP/2 with prior knowledge in cleartext (HTTP, version HTTP2 or GRPC)
	UpstreamH2TLS                // HTTP/2 over TLS, ALPN h2 (HTTPS, version HTTP2 or GRPC)
	UpstreamTCP                  // raw TCP (protocol TCP; for TLS passthrough listeners)
	UpstreamLambda               // a Lambda function (type LAMBDA)
)

var upstreamNames = [...]string{"UNSUPPORTED", "H1", "H1TLS", "H2C", "H2TLS", "TCP", "LAMBDA"}

func (u Upstream) String() string {
	if int(u) < len(upstreamNames) {
		return upstreamNames[u]
	}
	return "UNSUPPORTED"
}

// MarshalText writes the kind's name (golden files, debug output).
func (u Upstream) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UpstreamOf returns the upstream kind of a target group of type typ
// (empty is IP), protocol proto (empty is HTTP) and protocol version ver
// (empty is HTTP1). The type decides first: a group whose targets are not
// IP addresses is reached by what it is, not by its protocol.
func UpstreamOf(typ, proto, ver string) Upstream {
	switch typ {
	case "", model.TargetGroupTypeIP, model.TargetGroupTypeInstance, model.TargetGroupTypeALB:
		// INSTANCE and ALB targets resolve to addresses at compile time
		// (targets.go) and are then reached like IP targets.
	case model.TargetGroupTypeLambda:
		return UpstreamLambda
	default:
		return UpstreamUnsupported
	}
	h2 := ver == model.ProtocolVersionHTTP2 || ver == model.ProtocolVersionGRPC
	switch proto {
	case "", model.ProtocolHTTP:
		if h2 {
			return UpstreamH2C
		}
		return UpstreamH1
	case model.ProtocolHTTPS:
		if h2 {
			return UpstreamH2TLS
		}
		return UpstreamH1TLS
	case model.ProtocolTCP:
		return UpstreamTCP
	}
	return UpstreamUnsupported
}
