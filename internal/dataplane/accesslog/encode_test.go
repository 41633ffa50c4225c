package accesslog

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// fieldOrder is Lattice's VpcLatticeAccessLogs record, in order.
var fieldOrder = []string{
	"startTime", "requestId", "serviceNetworkArn", "serviceArn", "targetGroupArn", "listenerId", "listenerType",
	"sourceVpcId", "sourceVpcArn", "destinationVpcId", "sourceIpPort", "targetIpPort", "requestMethod", "requestPath",
	"protocol", "responseCode", "grpcResponseCode", "bytesReceived", "bytesSent", "duration", "requestToTargetDuration",
	"responseFromTargetDuration", "hostHeader", "userAgent", "serverNameIndication", "sslCipher", "tlsVersion",
	"resolvedUser", "authDeniedReason", "callerPrincipal", "callerPrincipalOrgID", "callerPrincipalTags",
	"callerX509SubjectCN", "callerX509IssuerOU", "callerX509SANNameCN", "callerX509SANDNS", "callerX509SANURI",
	"failureReason",
}

var testCaller = &snapshot.Identity{
	AccessKeyID:  "AKIAEXAMPLE",
	PrincipalARN: "arn:aws:sts::111122223333:assumed-role/reader/s1",
	OrgID:        "o-abc123",
	Tags:         map[string]string{"team": "a", "env": "prod"},
}

// fullEntry is a realistic record of a signed request through a network.
func fullEntry() *Entry {
	return &Entry{
		Start:              time.Date(2024, 3, 5, 7, 8, 9, 999_000_000, time.FixedZone("X", 3600)),
		RequestID:          "5b2f2a3c-0d41-4b39-9d51-3c0d8e6c1f00",
		ServiceNetworkARN:  "arn:aws:vpc-lattice:us-east-1:111122223333:servicenetwork/sn-0123456789abcdef0",
		ServiceARN:         "arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123456789abcdef0",
		TargetGroupARN:     "arn:aws:vpc-lattice:us-east-1:111122223333:targetgroup/tg-0123456789abcdef0",
		ListenerID:         "listener-0123456789abcdef0",
		ListenerType:       "HTTP",
		SourceVPCID:        "vpc-00000000000000001",
		SourceVPCARN:       "arn:aws:ec2:us-east-1:111122223333:vpc/vpc-00000000000000001",
		DestinationVPCID:   "vpc-0000000000000000f",
		Source:             netip.MustParseAddrPort("10.0.0.7:51234"),
		Target:             netip.MustParseAddrPort("[2001:db8::1]:8080"),
		Method:             "GET",
		Path:               "/orders?id=7",
		Protocol:           "HTTP/1.1",
		Host:               "orders.example.com",
		UserAgent:          "curl/8.5.0",
		Status:             200,
		GRPCStatus:         -1,
		BytesReceived:      12,
		BytesSent:          345,
		Duration:           41*time.Millisecond + 999*time.Microsecond,
		RequestToTarget:    2 * time.Millisecond,
		ResponseFromTarget: 39 * time.Millisecond,
		AuthChecked:        true,
		Caller:             testCaller,
	}
}

// decode parses one record, failing the test unless it is one JSON object.
func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	if !json.Valid(b) {
		t.Fatalf("not valid JSON: %s", b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

// keys returns the keys of the JSON object b in the order written.
func keys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v %v", tok, err)
	}
	var out []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestAppendJSONFieldsInOrder(t *testing.T) {
	for name, e := range map[string]*Entry{"full": fullEntry(), "empty": {}} {
		b := AppendJSON(nil, e)
		if diff := cmp.Diff(fieldOrder, keys(t, b)); diff != "" {
			t.Errorf("%s: keys (-want +got):\n%s", name, diff)
		}
	}
}

func TestAppendJSONFull(t *testing.T) {
	prefix := []byte("kept ")
	b := AppendJSON(prefix, fullEntry())
	if !bytes.HasPrefix(b, prefix) {
		t.Fatalf("the buffer's contents were not kept: %s", b)
	}
	got := decode(t, b[len(prefix):])
	want := map[string]any{
		"startTime":                  "2024-03-05T06:08:09Z",
		"requestId":                  "5b2f2a3c-0d41-4b39-9d51-3c0d8e6c1f00",
		"serviceNetworkArn":          "arn:aws:vpc-lattice:us-east-1:111122223333:servicenetwork/sn-0123456789abcdef0",
		"serviceArn":                 "arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123456789abcdef0",
		"targetGroupArn":             "arn:aws:vpc-lattice:us-east-1:111122223333:targetgroup/tg-0123456789abcdef0",
		"listenerId":                 "listener-0123456789abcdef0",
		"listenerType":               "HTTP",
		"sourceVpcId":                "vpc-00000000000000001",
		"sourceVpcArn":               "arn:aws:ec2:us-east-1:111122223333:vpc/vpc-00000000000000001",
		"destinationVpcId":           "vpc-0000000000000000f",
		"sourceIpPort":               "10.0.0.7:51234",
		"targetIpPort":               "[2001:db8::1]:8080",
		"requestMethod":              "GET",
		"requestPath":                "/orders?id=7",
		"protocol":                   "HTTP/1.1",
		"responseCode":               float64(200),
		"grpcResponseCode":           "-",
		"bytesReceived":              float64(12),
		"bytesSent":                  float64(345),
		"duration":                   float64(41),
		"requestToTargetDuration":    float64(2),
		"responseFromTargetDuration": float64(39),
		"hostHeader":                 "orders.example.com",
		"userAgent":                  "curl/8.5.0",
		"serverNameIndication":       "-",
		"sslCipher":                  "-",
		"tlsVersion":                 "-",
		"resolvedUser":               "arn:aws:sts::111122223333:assumed-role/reader/s1",
		"authDeniedReason":           "-",
		"callerPrincipal":            "arn:aws:sts::111122223333:assumed-role/reader/s1",
		"callerPrincipalOrgID":       "o-abc123",
		"callerPrincipalTags":        `{"env":"prod","team":"a"}`,
		"callerX509SubjectCN":        "-",
		"callerX509IssuerOU":         "-",
		"callerX509SANNameCN":        "-",
		"callerX509SANDNS":           "-",
		"callerX509SANURI":           "-",
		"failureReason":              "-",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
}

// TestAppendJSONTLS pins the three TLS fields of an HTTPS listener's
// record, and that each is "-" alone when empty.
func TestAppendJSONTLS(t *testing.T) {
	cases := []struct {
		name           string
		sni, cip, ver  string
		wantSNI        string
		wantCip, wantV string
	}{
		{"tls12", "orders.example.com", "ECDHE-ECDSA-AES128-GCM-SHA256", "TLSv1.2", "orders.example.com", "ECDHE-ECDSA-AES128-GCM-SHA256", "TLSv1.2"},
		{"tls13", "svc-0123.7d67968.vpc-lattice-svcs.us-east-1.on.aws", "TLS_AES_128_GCM_SHA256", "TLSv1.3",
			"svc-0123.7d67968.vpc-lattice-svcs.us-east-1.on.aws", "TLS_AES_128_GCM_SHA256", "TLSv1.3"},
		{"plain HTTP", "", "", "", "-", "-", "-"},
		{"cipher only", "", "AES128-SHA", "", "-", "AES128-SHA", "-"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := fullEntry()
			e.ListenerType = "HTTPS"
			e.ServerNameIndication, e.SSLCipher, e.TLSVersion = tc.sni, tc.cip, tc.ver
			b := AppendJSON(nil, e)
			if diff := cmp.Diff(fieldOrder, keys(t, b)); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
			got := decode(t, b)
			want := map[string]any{"serverNameIndication": tc.wantSNI, "sslCipher": tc.wantCip, "tlsVersion": tc.wantV}
			for k, w := range want {
				if got[k] != w {
					t.Errorf("%s = %#v, want %#v", k, got[k], w)
				}
			}
			if n := testing.AllocsPerRun(50, func() { b = AppendJSON(b[:0], e) }); n != 0 {
				t.Errorf("AppendJSON allocates %v times with TLS fields", n)
			}
		})
	}
}

func TestAppendJSONEmpty(t *testing.T) {
	got := decode(t, AppendJSON(nil, &Entry{}))
	for _, k := range fieldOrder {
		want := any("-")
		switch k {
		case "responseCode", "grpcResponseCode", "bytesReceived", "bytesSent", "duration",
			"requestToTargetDuration", "responseFromTargetDuration":
			want = float64(0) // numbers stay numbers; only negatives mean "not known"
		}
		if got[k] != want {
			t.Errorf("%s = %#v, want %#v", k, got[k], want)
		}
	}
}

func TestAppendJSONNumbers(t *testing.T) {
	e := &Entry{GRPCStatus: 14, Status: 503, Duration: 999 * time.Microsecond, RequestToTarget: -1, ResponseFromTarget: 1500 * time.Microsecond, BytesSent: 1 << 40}
	got := decode(t, AppendJSON(nil, e))
	want := map[string]any{"grpcResponseCode": float64(14), "responseCode": float64(503), "duration": float64(0),
		"requestToTargetDuration": "-", "responseFromTargetDuration": float64(1), "bytesSent": float64(1 << 40)}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
}

func TestAppendJSONResolvedUser(t *testing.T) {
	cases := []struct {
		name   string
		e      Entry
		want   string
		caller string
	}{
		{"no auth", Entry{}, "-", "-"},
		{"anonymous", Entry{AuthChecked: true}, "Anonymous", "-"},
		{"signed", Entry{AuthChecked: true, Caller: &snapshot.Identity{PrincipalARN: "arn:aws:iam::111122223333:root"}},
			"arn:aws:iam::111122223333:root", "arn:aws:iam::111122223333:root"},
	}
	for _, tc := range cases {
		got := decode(t, AppendJSON(nil, &tc.e))
		if got["resolvedUser"] != tc.want || got["callerPrincipal"] != tc.caller {
			t.Errorf("%s: resolvedUser %q callerPrincipal %q, want %q %q", tc.name, got["resolvedUser"], got["callerPrincipal"], tc.want, tc.caller)
		}
		if tc.e.Caller == nil && (got["callerPrincipalOrgID"] != "-" || got["callerPrincipalTags"] != "-") {
			t.Errorf("%s: caller fields without a caller: %v", tc.name, got)
		}
	}
}

func TestCallerPrincipalTags(t *testing.T) {
	cases := []struct {
		tags map[string]string
		want string // the string value; "-" when none
	}{
		{nil, "-"},
		{map[string]string{}, "-"},
		{map[string]string{"team": "a"}, `{"team":"a"}`},
		{map[string]string{"z": "1", "a": "2", "m": "3"}, `{"a":"2","m":"3","z":"1"}`},
		{map[string]string{`q"k`: "back\\slash\n", "é": "\xff"}, `{"q\"k":"back\\slash\n","é":"\ufffd"}`},
	}
	for _, tc := range cases {
		id := &snapshot.Identity{PrincipalARN: "arn:aws:iam::111122223333:user/u", Tags: tc.tags}
		for range 2 { // encoded, then cached
			got := decode(t, AppendJSON(nil, &Entry{Caller: id}))
			s, _ := got["callerPrincipalTags"].(string)
			if s != tc.want {
				t.Errorf("tags %v: %q, want %q", tc.tags, s, tc.want)
				continue
			}
			if s == "-" {
				continue
			}
			var obj map[string]string
			if err := json.Unmarshal([]byte(s), &obj); err != nil {
				t.Errorf("tags %v: %q is not a JSON object: %v", tc.tags, s, err)
			}
			if len(obj) != len(tc.tags) {
				t.Errorf("tags %v: decoded %v", tc.tags, obj)
			}
		}
	}
}

// The tag cache must not keep identities alive, and must not give one
// identity's tags to another.
func TestCallerTagsCacheLetsGo(t *testing.T) {
	key := func() uintptr {
		id := &snapshot.Identity{Tags: map[string]string{"k": "v"}}
		if got := string(callerTags(id)); got != `"{\"k\":\"v\"}"` {
			t.Fatalf("callerTags = %s", got)
		}
		return uintptr(unsafe.Pointer(id))
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		if _, ok := tagCache.Load(key); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cache entry of a collected identity is still there")
		}
		time.Sleep(10 * time.Millisecond)
	}
	a := &snapshot.Identity{Tags: map[string]string{"k": "a"}}
	b := &snapshot.Identity{Tags: map[string]string{"k": "b"}}
	if string(callerTags(a)) == string(callerTags(b)) {
		t.Error("two identities share tags")
	}
}

func TestAppendJSONAddresses(t *testing.T) {
	cases := []struct {
		p    netip.AddrPort
		want string
	}{
		{netip.AddrPort{}, "-"},
		{netip.MustParseAddrPort("192.0.2.1:80"), "192.0.2.1:80"},
		{netip.MustParseAddrPort("[2001:db8::1]:443"), "[2001:db8::1]:443"},
		{netip.MustParseAddrPort("[::ffff:192.0.2.1]:80"), "[::ffff:192.0.2.1]:80"},
		{netip.MustParseAddrPort("[fe80::1%eth0]:8080"), "[fe80::1%eth0]:8080"},
		{netip.AddrPortFrom(netip.MustParseAddr("fe80::1").WithZone("a\"b\x01"), 1), "[fe80::1%a\"b\x01]:1"},
	}
	for _, tc := range cases {
		got := decode(t, AppendJSON(nil, &Entry{Source: tc.p, Target: tc.p}))
		if got["sourceIpPort"] != tc.want || got["targetIpPort"] != tc.want {
			t.Errorf("%v: %q %q, want %q", tc.p, got["sourceIpPort"], got["targetIpPort"], tc.want)
		}
	}
}

func TestAppendJSONStartTime(t *testing.T) {
	cases := []struct {
		t    time.Time
		want string
	}{
		{time.Time{}, "-"},
		{time.Date(1999, 12, 31, 23, 59, 59, 999_999_999, time.UTC), "1999-12-31T23:59:59Z"},
		{time.Date(2024, 1, 1, 0, 30, 0, 0, time.FixedZone("", -3600)), "2024-01-01T01:30:00Z"},
		{time.Date(12345, 6, 7, 8, 9, 10, 0, time.UTC), "12345-06-07T08:09:10Z"},
	}
	for _, tc := range cases {
		if got := decode(t, AppendJSON(nil, &Entry{Start: tc.t}))["startTime"]; got != tc.want {
			t.Errorf("%v: %q, want %q", tc.t, got, tc.want)
		}
	}
}

// escapeCases are request strings and what a JSON parser must read back.
var escapeCases = []struct {
	in, want string
}{
	{"plain/ascii?x=1&y=~", "plain/ascii?x=1&y=~"},
	{`say "hi"`, `say "hi"`},
	{`back\slash`, `back\slash`},
	{"line\nbreak\r\ttab", "line\nbreak\r\ttab"},
	{"nul\x00bell\x07esc\x1b", "nul\x00bell\x07esc\x1b"},
	{"del\x7f", "del\x7f"},
	{"héllo wörld ✓ 🎉", "héllo wörld ✓ 🎉"},
	{"bad\xffbyte", "bad\uFFFDbyte"},
	{"truncated \xe2\x9c", "truncated \uFFFD\uFFFD"},
	{"surrogate \xed\xa0\x80", "surrogate \uFFFD\uFFFD\uFFFD"},
	{"overlong \xc0\xaf", "overlong \uFFFD\uFFFD"},
	{"sep\u2028\u2029", "sep\u2028\u2029"},
	{"</script>", "</script>"},
}

func TestAppendJSONEscaping(t *testing.T) {
	for _, tc := range escapeCases {
		b := AppendJSON(nil, &Entry{Path: tc.in, UserAgent: tc.in, Host: tc.in, RequestID: tc.in, ServerNameIndication: tc.in})
		got := decode(t, b)
		for _, k := range []string{"requestPath", "userAgent", "hostHeader", "requestId", "serverNameIndication"} {
			if got[k] != tc.want {
				t.Errorf("%q: %s = %q, want %q", tc.in, k, got[k], tc.want)
			}
		}
		for _, c := range b {
			if c < 0x20 || c == 0x7f {
				t.Errorf("%q: a raw control byte %#x in %q", tc.in, c, b)
			}
		}
	}
}

// wantString is what AppendJSON promises a string reads back as: s with
// each byte that does not start a valid UTF-8 sequence replaced by U+FFFD.
func wantString(s string) string {
	if s == "" {
		return "-"
	}
	return string([]rune(s))
}

func FuzzAppendJSON(f *testing.F) {
	for _, tc := range escapeCases {
		f.Add(tc.in, tc.in, tc.in, tc.in)
	}
	f.Add("", "", "", "")
	f.Fuzz(func(t *testing.T, path, ua, host, id string) {
		b := AppendJSON(nil, &Entry{Path: path, UserAgent: ua, Host: host, RequestID: id})
		got := decode(t, b)
		for k, in := range map[string]string{"requestPath": path, "userAgent": ua, "hostHeader": host, "requestId": id} {
			if got[k] != wantString(in) {
				t.Errorf("%s: %q read back as %q, want %q", k, in, got[k], wantString(in))
			}
		}
		if bytes.ContainsAny(b, "\n\r") {
			t.Errorf("a raw line break in %q", b)
		}
	})
}

func TestAppendJSONAllocs(t *testing.T) {
	e := fullEntry()
	e.Path = "/with \"escapes\"\x01 and ünïcode"
	buf := AppendJSON(nil, e)
	if n := testing.AllocsPerRun(100, func() { buf = AppendJSON(buf[:0], e) }); n != 0 {
		t.Errorf("AppendJSON allocates %v times per record", n)
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	e := fullEntry()
	e.UserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
	buf := AppendJSON(nil, e)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		buf = AppendJSON(buf[:0], e)
	}
}

func BenchmarkAppendJSONEscaped(b *testing.B) {
	e := fullEntry()
	e.Path = "/search?q=" + strings.Repeat("ünïcode \"quoted\" ", 4)
	buf := AppendJSON(nil, e)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		buf = AppendJSON(buf[:0], e)
	}
}

// traceId is written after Lattice's fields when the request was traced,
// and not at all otherwise (records of untraced requests stay Lattice's).
func TestAppendJSONTraceID(t *testing.T) {
	e := fullEntry()
	if got := decode(t, AppendJSON(nil, e)); got["traceId"] != nil {
		t.Fatalf("an untraced record has traceId %v", got["traceId"])
	}
	e.TraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	b := AppendJSON(nil, e)
	if diff := cmp.Diff(append(append([]string(nil), fieldOrder...), "traceId"), keys(t, b)); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if got := decode(t, b); got["traceId"] != e.TraceID {
		t.Fatalf("traceId %v", got["traceId"])
	}
	if n := testing.AllocsPerRun(50, func() { b = AppendJSON(b[:0], e) }); n != 0 {
		t.Errorf("AppendJSON allocates %v times with a trace ID", n)
	}
}
