package proxy

import (
	"errors"
	"os"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// TargetConnObserver is told of every connection the proxy tries to open
// to a target: Lattice's target-group connection metrics
// (ConnectionErrorCount, ConnectionTimeoutCount, and the connections made;
// reference §7.6); Config.TargetConns. It runs on the request path: it
// must not block and should not allocate.
type TargetConnObserver interface {
	// TargetConn reports one dial to a target of tg and how it ended.
	TargetConn(tg *snapshot.TargetGroup, r DialResult)
}

// DialResult is how a dial to a target ended.
type DialResult uint8

const (
	// DialConnected: a new connection (the own HTTP/1.1 client's; connections
	// net/http's transports open for HTTPS and HTTP/2 targets are not
	// seen, only their failures).
	DialConnected DialResult = iota
	// DialFailed: refused, unreachable, reset during the connect.
	DialFailed
	// DialTimedOut: the connect did not finish within DialTimeout or the
	// request's time.
	DialTimedOut
)

// dialed tells the target-connection observer, if any, of a dial.
func (p *Proxy) dialed(tg *snapshot.TargetGroup, r DialResult) {
	if p.connObs != nil && tg != nil {
		p.connObs.TargetConn(tg, r)
	}
}

// dialFailure classifies a failed dial's error.
func dialFailure(err error) DialResult {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return DialTimedOut
	}
	return DialFailed
}
