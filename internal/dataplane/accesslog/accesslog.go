// Package accesslog writes the data plane's access logs: one JSON object
// per request (Lattice's VpcLatticeAccessLogs format), delivered to every
// access log subscription of the service called and of the service network
// it was called through; and one VpcLatticeResourceAccessLogs object per
// TCP connection to a resource configuration, to the network's RESOURCE
// subscriptions (resource.go; S3 objects under ResourceAccessLogs).
//
// A subscription's destination ARN decides where its records go, under
// Config.Dir (see destination.go for the exact layout):
//
//	CloudWatch Logs  arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]
//	                 → DIR/cloudwatch/ACCOUNT/REGION/GROUP/RESOURCE-ID.log (JSON lines)
//	Firehose         arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME
//	                 → DIR/firehose/ACCOUNT/REGION/NAME.log (JSON lines)
//	S3               arn:aws:s3:::BUCKET[/PREFIX]
//	                 → DIR/s3/BUCKET/[PREFIX/]AWSLogs/ACCOUNT/VpcLattice/AccessLogs/REGION/YYYY/MM/DD/RESOURCE-ID/
//	                   ACCOUNT_VpcLatticeAccessLogs_REGION_RESOURCE-ID_YYYYMMDDTHHmmZ_HASH.json.gz
//	                   (written as ….json.gz.partial, sealed by a rename after Config.S3ObjectInterval)
//
// The request path only encodes the record and appends it to in-memory
// buffers; a background goroutine writes them out at least every
// Config.FlushInterval. Access logs are best effort, as in Lattice: a
// record still buffered when the process dies is lost, and a destination
// that cannot keep up drops records (counted, and reported in the log)
// rather than slowing requests down or growing without bound.
//
// Taps (tap.go) are live feeds of a service's or network's records for
// `trellis logs tail`: a tapped resource's requests get records as a
// subscribed one's do, and each tap has a bounded queue its reader drains;
// a slow reader loses records, counted, never the request path's time.
package accesslog

import (
	"net/netip"
	"time"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// Entry is what the data plane knows of one request when it ends. Empty
// strings are written as "-", as Lattice does.
type Entry struct {
	// Start is when the request's head was read.
	Start     time.Time
	RequestID string

	ServiceNetworkARN string
	ServiceARN        string
	TargetGroupARN    string
	ListenerID        string
	ListenerType      string // the listener's protocol: HTTP, HTTPS
	SourceVPCID       string
	SourceVPCARN      string
	DestinationVPCID  string // the target group's VPC

	Source netip.AddrPort // the client
	Target netip.AddrPort // the target the request went to; zero when none

	Method    string
	Path      string // the request target as sent: path and query
	Protocol  string // HTTP/1.1, HTTP/1.0, HTTP/2
	Host      string
	UserAgent string

	// ServerNameIndication is the SNI the client sent on a TLS listener
	// (lowercased); SSLCipher and TLSVersion the cipher suite and version
	// negotiated where Trellis terminated TLS (HTTPS listeners), in the
	// names Lattice logs (tlsterm.CipherName, tlsterm.VersionName:
	// ECDHE-RSA-AES128-GCM-SHA256, TLSv1.2); empty on HTTP listeners, and
	// cipher and version empty for passthrough, which never sees them.
	ServerNameIndication string
	SSLCipher            string
	TLSVersion           string

	// TraceID is the request's OpenTelemetry trace ID (32 hex digits) when
	// it was traced and sampled: Trellis's one field beyond Lattice's,
	// written as traceId only when set.
	TraceID string

	// Status is the status sent to the client, -1 for a connection that
	// carried no HTTP (TLS passthrough); GRPCStatus the gRPC status of a
	// gRPC call, -1 otherwise.
	Status     int
	GRPCStatus int

	BytesReceived int64 // request body bytes read from the client
	BytesSent     int64 // response body bytes written to the client

	// Duration runs from Start to the last byte to the client;
	// RequestToTarget from Start to the request sent to the target;
	// ResponseFromTarget from the target's response headers to the last
	// byte to the client. The two target durations are negative when the
	// request did not get that far.
	Duration           time.Duration
	RequestToTarget    time.Duration
	ResponseFromTarget time.Duration

	// AuthChecked reports that an AWS_IAM level evaluated the request;
	// Caller is the identity SigV4 authenticated (nil: anonymous).
	AuthChecked bool
	Caller      *snapshot.Identity
	// AuthDeniedReason is "", "Network", "Service" or "Identity".
	AuthDeniedReason string
	// FailureReason is "" or one of Lattice's reasons:
	// TargetConnectionError, TargetProtocolError, TargetDataTimeout,
	// TargetConnectionClosed, ClientConnectionClosed, ClientAccessDenied,
	// ClientProtocolError, ConnectionDurationExceeded, InternalError.
	FailureReason string
}
