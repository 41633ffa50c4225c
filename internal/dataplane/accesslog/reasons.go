package accesslog

// The failureReason values Lattice writes (Entry.FailureReason).
const (
	TargetConnectionError  = "TargetConnectionError"
	TargetProtocolError    = "TargetProtocolError"
	TargetDataTimeout      = "TargetDataTimeout"
	TargetConnectionClosed = "TargetConnectionClosed"
	ClientConnectionClosed = "ClientConnectionClosed"
	ClientAccessDenied     = "ClientAccessDenied"
	ClientProtocolError    = "ClientProtocolError"
	InternalError          = "InternalError"
	// ConnectionDurationExceeded: a connection reached the service's
	// maximum lifetime (10 minutes in Lattice) and was closed.
	ConnectionDurationExceeded = "ConnectionDurationExceeded"
)
