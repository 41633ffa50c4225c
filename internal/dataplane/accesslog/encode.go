package accesslog

import (
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"
	"unsafe"
	"weak"

	"github.com/trellis-net/trellis/internal/dataplane/jsonstr"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// The record is encoded by hand, field by field, into a caller's buffer:
// it runs once per logged request, so it must not allocate, and its shape
// is fixed (Lattice's field names, in Lattice's order), so reflection and
// encoding/json would buy nothing but cost.
//
// String values are made valid JSON whatever the request contained: '"',
// '\\' and the control characters (DEL included) are escaped, U+2028 and
// U+2029 too (as encoding/json does, so a record can be embedded in
// JavaScript), and every byte that does not start a valid UTF-8 sequence
// becomes U+FFFD — one U+FFFD per invalid byte, the same as
// string([]rune(s)) and encoding/json's own decoding of invalid input.
// Strings that need none of this (almost all of them) are copied whole.

// dash is the JSON token of an empty value.
const dash = `"-"`

var dashToken = []byte(dash)

// AppendJSON appends e as one JSON object, without a trailing newline, and
// returns the extended buffer. It does not allocate when dst has room (the
// first record of a caller with new tags encodes and caches them: see
// callerTags).
func AppendJSON(dst []byte, e *Entry) []byte {
	dst = append(dst, `{"startTime":`...)
	dst = appendTime(dst, e.Start)
	dst = append(dst, `,"requestId":`...)
	dst = appendString(dst, e.RequestID)
	dst = append(dst, `,"serviceNetworkArn":`...)
	dst = appendString(dst, e.ServiceNetworkARN)
	dst = append(dst, `,"serviceArn":`...)
	dst = appendString(dst, e.ServiceARN)
	dst = append(dst, `,"targetGroupArn":`...)
	dst = appendString(dst, e.TargetGroupARN)
	dst = append(dst, `,"listenerId":`...)
	dst = appendString(dst, e.ListenerID)
	dst = append(dst, `,"listenerType":`...)
	dst = appendString(dst, e.ListenerType)
	dst = append(dst, `,"sourceVpcId":`...)
	dst = appendString(dst, e.SourceVPCID)
	dst = append(dst, `,"sourceVpcArn":`...)
	dst = appendString(dst, e.SourceVPCARN)
	dst = append(dst, `,"destinationVpcId":`...)
	dst = appendString(dst, e.DestinationVPCID)
	dst = append(dst, `,"sourceIpPort":`...)
	dst = appendAddrPort(dst, e.Source)
	dst = append(dst, `,"targetIpPort":`...)
	dst = appendAddrPort(dst, e.Target)
	dst = append(dst, `,"requestMethod":`...)
	dst = appendString(dst, e.Method)
	dst = append(dst, `,"requestPath":`...)
	dst = appendString(dst, e.Path)
	dst = append(dst, `,"protocol":`...)
	dst = appendString(dst, e.Protocol)
	dst = append(dst, `,"responseCode":`...)
	if e.Status < 0 {
		dst = append(dst, dash...)
	} else {
		dst = strconv.AppendInt(dst, int64(e.Status), 10)
	}
	dst = append(dst, `,"grpcResponseCode":`...)
	if e.GRPCStatus < 0 {
		dst = append(dst, dash...)
	} else {
		dst = strconv.AppendInt(dst, int64(e.GRPCStatus), 10)
	}
	dst = append(dst, `,"bytesReceived":`...)
	dst = strconv.AppendInt(dst, e.BytesReceived, 10)
	dst = append(dst, `,"bytesSent":`...)
	dst = strconv.AppendInt(dst, e.BytesSent, 10)
	dst = append(dst, `,"duration":`...)
	dst = strconv.AppendInt(dst, max(e.Duration.Milliseconds(), 0), 10)
	dst = append(dst, `,"requestToTargetDuration":`...)
	dst = appendMillis(dst, e.RequestToTarget)
	dst = append(dst, `,"responseFromTargetDuration":`...)
	dst = appendMillis(dst, e.ResponseFromTarget)
	dst = append(dst, `,"hostHeader":`...)
	dst = appendString(dst, e.Host)
	dst = append(dst, `,"userAgent":`...)
	dst = appendString(dst, e.UserAgent)
	dst = append(dst, `,"serverNameIndication":`...)
	dst = appendString(dst, e.ServerNameIndication)
	dst = append(dst, `,"sslCipher":`...)
	dst = appendString(dst, e.SSLCipher)
	dst = append(dst, `,"tlsVersion":`...)
	dst = appendString(dst, e.TLSVersion)
	dst = append(dst, `,"resolvedUser":`...)
	switch {
	case e.Caller != nil:
		dst = appendString(dst, e.Caller.PrincipalARN)
	case e.AuthChecked:
		dst = append(dst, `"Anonymous"`...)
	default:
		dst = append(dst, dash...)
	}
	dst = append(dst, `,"authDeniedReason":`...)
	dst = appendString(dst, e.AuthDeniedReason)
	if c := e.Caller; c != nil {
		dst = append(dst, `,"callerPrincipal":`...)
		dst = appendString(dst, c.PrincipalARN)
		dst = append(dst, `,"callerPrincipalOrgID":`...)
		dst = appendString(dst, c.OrgID)
		dst = append(dst, `,"callerPrincipalTags":`...)
		dst = append(dst, callerTags(c)...)
	} else {
		dst = append(dst, `,"callerPrincipal":"-","callerPrincipalOrgID":"-","callerPrincipalTags":"-"`...)
	}
	// SigV4 only: no caller certificates.
	dst = append(dst, `,"callerX509SubjectCN":"-","callerX509IssuerOU":"-","callerX509SANNameCN":"-","callerX509SANDNS":"-","callerX509SANURI":"-","failureReason":`...)
	dst = appendString(dst, e.FailureReason)
	if e.TraceID != "" {
		dst = append(dst, `,"traceId":`...)
		dst = appendString(dst, e.TraceID)
	}
	return append(dst, '}')
}

// appendMillis appends d in whole milliseconds (rounded down), or "-" when
// d is negative: the request did not get that far.
func appendMillis(dst []byte, d time.Duration) []byte {
	if d < 0 {
		return append(dst, dash...)
	}
	return strconv.AppendInt(dst, d.Milliseconds(), 10)
}

// appendTime appends t in UTC, to the second, as Lattice writes startTime
// (2006-01-02T15:04:05Z); "-" for the zero time.
func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, dash...)
	}
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.AppendFormat(dst, `"2006-01-02T15:04:05Z"`)
	}
	h, mi, s := t.Clock()
	return append(dst, '"',
		byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+mo/10), byte('0'+mo%10), '-', byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+h/10), byte('0'+h%10), ':', byte('0'+mi/10), byte('0'+mi%10), ':',
		byte('0'+s/10), byte('0'+s%10), 'Z', '"')
}

// appendAddrPort appends p as ip:port ([ip]:port for IPv6), or "-" when p
// has no address. A zone (fe80::1%eth0) is the only part that can hold
// arbitrary bytes, so it alone goes through the escaper.
func appendAddrPort(dst []byte, p netip.AddrPort) []byte {
	a := p.Addr()
	if !a.IsValid() {
		return append(dst, dash...)
	}
	dst = append(dst, '"')
	if a.Is6() {
		dst = append(dst, '[')
	}
	zone := a.Zone()
	dst = a.WithZone("").AppendTo(dst)
	if zone != "" {
		dst = append(dst, '%')
		dst = jsonstr.AppendEscaped(dst, zone)
	}
	if a.Is6() {
		dst = append(dst, ']')
	}
	dst = append(dst, ':')
	dst = strconv.AppendUint(dst, uint64(p.Port()), 10)
	return append(dst, '"')
}

// appendString appends s as a JSON string, "-" when it is empty.
func appendString(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, dash...)
	}
	dst = append(dst, '"')
	dst = jsonstr.AppendEscaped(dst, s)
	return append(dst, '"')
}

// tagCache holds the encoded callerPrincipalTags of each identity seen,
// keyed by the identity's address. Identities are immutable and shared by
// every request of their caller, so their tags are encoded (sorted,
// escaped twice: a JSON object inside a JSON string) once, not per request.
//
// The key is the address as a uintptr rather than the pointer so that the
// cache does not keep identities alive: each snapshot rebuild makes new
// ones, and the old ones must go. A cleanup attached to the identity
// removes its entry once it is collected; until the cleanup has run, its
// address may already hold a new identity, which is why an entry also
// keeps a weak pointer and is used only when that pointer still resolves
// to the identity asked about.
var tagCache sync.Map // uintptr → *tagEntry

type tagEntry struct {
	id  weak.Pointer[snapshot.Identity]
	enc []byte // the JSON string token, quotes included
}

// callerTags returns the callerPrincipalTags token of id: its tags as a
// compact JSON object with sorted keys, itself as a JSON string; "-" when
// it has none.
func callerTags(id *snapshot.Identity) []byte {
	if len(id.Tags) == 0 {
		return dashToken
	}
	key := uintptr(unsafe.Pointer(id))
	if v, ok := tagCache.Load(key); ok {
		if t := v.(*tagEntry); t.id.Value() == id {
			return t.enc
		}
	}
	t := &tagEntry{id: weak.Make(id), enc: encodeTags(id.Tags)}
	tagCache.Store(key, t)
	runtime.AddCleanup(id, func(t *tagEntry) { tagCache.CompareAndDelete(key, t) }, t)
	return t.enc
}

// encodeTags returns tags as a JSON string holding a compact JSON object
// with sorted keys: "{\"team\":\"a\"}".
func encodeTags(tags map[string]string) []byte {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	obj := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			obj = append(obj, ',')
		}
		obj = append(obj, '"')
		obj = jsonstr.AppendEscaped(obj, k)
		obj = append(obj, '"', ':', '"')
		obj = jsonstr.AppendEscaped(obj, tags[k])
		obj = append(obj, '"')
	}
	obj = append(obj, '}')
	return appendString(nil, string(obj))
}
