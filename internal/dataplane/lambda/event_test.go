package lambda

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trellis-net/trellis/internal/dataplane/lambda/lambdatest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// strictJSON decodes b into v refusing unknown fields, and checks that
// every object key of b is spelled as a field's tag (encoding/json matches
// keys regardless of case).
func strictJSON(t *testing.T, b []byte, v any, keys ...string) {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	for k := range top {
		if !slices.Contains(keys, k) {
			t.Errorf("key %q is not one of %v", k, keys)
		}
	}
}

var (
	v1Keys = []string{"raw_path", "method", "headers", "query_string_parameters", "body", "is_base64_encoded"}
	v2Keys = []string{"version", "path", "method", "headers", "queryStringParameters", "body", "isBase64Encoded", "requestContext"}
)

// typical is a request as the proxy hands it over: the client's fields
// and Lattice's.
func typical() *Request {
	return &Request{
		Method: "POST",
		Target: "/orders/42?expand=items&expand=customer&q=a%20b",
		Host:   "orders-0a1b2c3d4e5f.7d67968.vpc-lattice-svcs.us-east-1.on.aws",
		Header: http.Header{
			"Accept":                 {"application/json"},
			"Content-Type":           {"application/json"},
			"Content-Length":         {"17"},
			"User-Agent":             {"curl/8.5.0"},
			"X-Forwarded-For":        {"10.0.1.7"},
			"X-Forwarded-Port":       {"80"},
			"X-Forwarded-Proto":      {"http"},
			"X-Amzn-Requestid":       {"4c1a8f0e-7d43-4f57-9a4b-2f6f5c2f1d3e"},
			"X-Amzn-Lattice-Network": {"SourceVpcArn=arn:aws:ec2:us-east-1:111122223333:vpc/vpc-0a000000000000001"},
			"X-Amzn-Lattice-Target":  {"ServiceArn=arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0a1b2c3d4e5f;ServiceNetworkArn=arn:aws:vpc-lattice:us-east-1:111122223333:servicenetwork/sn-0a000000000000001;TargetGroupArn=arn:aws:vpc-lattice:us-east-1:111122223333:targetgroup/tg-0a000000000000001"},
			"X-Multi":                {"one", "two"},
		},
		Body: []byte(`{"quantity": "3"}`),
		Context: RequestContext{
			ServiceNetworkARN: "arn:aws:vpc-lattice:us-east-1:111122223333:servicenetwork/sn-0a000000000000001",
			ServiceARN:        "arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0a1b2c3d4e5f",
			TargetGroupARN:    "arn:aws:vpc-lattice:us-east-1:111122223333:targetgroup/tg-0a000000000000001",
			Region:            "us-east-1",
			Identity: Identity{
				SourceVpcARN: "arn:aws:ec2:us-east-1:111122223333:vpc/vpc-0a000000000000001",
				Type:         "AWS_IAM",
				Principal:    "arn:aws:sts::111122223333:assumed-role/caller/session-1",
				SessionName:  "session-1",
			},
			Time: time.Date(2026, 12, 6, 6, 0, 0, 123456789, time.UTC),
		},
	}
}

// TestEventGolden pins the bytes of a typical request's V1 and V2 events
// (go test -update rewrites them).
func TestEventGolden(t *testing.T) {
	for _, v := range []string{EventV1, EventV2} {
		t.Run(v, func(t *testing.T) {
			b := AppendEvent(nil, v, typical())
			if !json.Valid(b) {
				t.Fatalf("invalid JSON: %s", b)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, b, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			path := filepath.Join("testdata", "event_"+strings.ToLower(v)+".json")
			if *update {
				if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(string(want), pretty.String()); d != "" {
				t.Fatalf("event (-golden +got):\n%s", d)
			}
		})
	}
}

// TestEventV1 checks V1 field by field: raw_path with the query, headers
// in lower case joined with ", ", the last value of a repeated query key,
// and the body rules.
func TestEventV1(t *testing.T) {
	var ev lambdatest.EventV1
	strictJSON(t, AppendV1(nil, typical()), &ev, v1Keys...)
	want := lambdatest.EventV1{
		RawPath: "/orders/42?expand=items&expand=customer&q=a%20b",
		Method:  "POST",
		Headers: map[string]string{
			"host":                   "orders-0a1b2c3d4e5f.7d67968.vpc-lattice-svcs.us-east-1.on.aws",
			"accept":                 "application/json",
			"content-type":           "application/json",
			"content-length":         "17",
			"user-agent":             "curl/8.5.0",
			"x-forwarded-for":        "10.0.1.7",
			"x-forwarded-port":       "80",
			"x-forwarded-proto":      "http",
			"x-amzn-requestid":       "4c1a8f0e-7d43-4f57-9a4b-2f6f5c2f1d3e",
			"x-amzn-lattice-network": "SourceVpcArn=arn:aws:ec2:us-east-1:111122223333:vpc/vpc-0a000000000000001",
			"x-amzn-lattice-target":  typical().Header["X-Amzn-Lattice-Target"][0],
			"x-multi":                "one, two",
		},
		Query: map[string]string{"expand": "customer", "q": "a b"},
		Body:  `{"quantity": "3"}`,
	}
	if d := cmp.Diff(want, ev); d != "" {
		t.Fatalf("V1 event (-want +got):\n%s", d)
	}
}

// TestEventV2 checks V2 field by field: path with the query, header and
// query values as arrays, requestContext with the identity fields that
// are known only, and timeEpoch as a string of microseconds.
func TestEventV2(t *testing.T) {
	r := typical()
	var ev lambdatest.EventV2
	b := AppendV2(nil, r)
	strictJSON(t, b, &ev, v2Keys...)
	if ev.Version != "2.0" || ev.Path != r.Target || ev.Method != "POST" || ev.Body != string(r.Body) || ev.IsBase64Encoded {
		t.Fatalf("V2 event: %+v", ev)
	}
	if d := cmp.Diff(map[string][]string{"expand": {"items", "customer"}, "q": {"a b"}}, ev.Query); d != "" {
		t.Fatalf("queryStringParameters (-want +got):\n%s", d)
	}
	if got := ev.Headers["x-multi"]; !slices.Equal(got, []string{"one", "two"}) {
		t.Fatalf("x-multi %q", got)
	}
	if got := ev.Headers["host"]; !slices.Equal(got, []string{r.Host}) {
		t.Fatalf("host %q", got)
	}
	want := lambdatest.ContextV2{
		ServiceNetworkArn: r.Context.ServiceNetworkARN, ServiceArn: r.Context.ServiceARN, TargetGroupArn: r.Context.TargetGroupARN,
		Region: "us-east-1", TimeEpoch: "1796536800123456",
		Identity: map[string]string{
			"sourceVpcArn": r.Context.Identity.SourceVpcARN, "type": "AWS_IAM",
			"principal": r.Context.Identity.Principal, "sessionName": "session-1",
		},
	}
	if d := cmp.Diff(want, ev.RequestContext); d != "" {
		t.Fatalf("requestContext (-want +got):\n%s", d)
	}
	// The documented casing of every identity key, each present only when
	// known.
	r.Context.Identity = Identity{SourceVpcARN: "a", Type: "b", Principal: "c", PrincipalOrgID: "d", SessionName: "e",
		X509IssuerOU: "f", X509SANDNS: "g", X509SANNameCN: "h", X509SANURI: "i", X509SubjectCN: "j"}
	var raw struct {
		RequestContext struct {
			Identity map[string]string `json:"identity"`
		} `json:"requestContext"`
	}
	if err := json.Unmarshal(AppendV2(nil, r), &raw); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string]string{"sourceVpcArn": "a", "type": "b", "principal": "c", "principalOrgID": "d",
		"sessionName": "e", "x509IssuerOu": "f", "x509SanDns": "g", "x509SanNameCn": "h", "x509SanUri": "i",
		"x509SubjectCn": "j"}, raw.RequestContext.Identity); d != "" {
		t.Fatalf("identity keys (-want +got):\n%s", d)
	}
	r.Context.Identity = Identity{}
	raw.RequestContext.Identity = nil
	if err := json.Unmarshal(AppendV2(nil, r), &raw); err != nil || len(raw.RequestContext.Identity) != 0 {
		t.Fatalf("an empty identity: %v %v", raw.RequestContext.Identity, err)
	}
}

// TestEventBody: which bodies go as text and which in base64 (reference
// §7.2), in both versions.
func TestEventBody(t *testing.T) {
	bin := []byte{0x89, 'P', 'N', 'G', 0, 1, 2, 0xff}
	for _, tc := range []struct {
		name   string
		header http.Header
		body   []byte
		b64    bool
	}{
		{"no body", http.Header{}, nil, false},
		{"json", http.Header{"Content-Type": {"application/json"}}, []byte(`{"a":1}`), false},
		{"text with charset", http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, []byte("héllo\n"), false},
		{"case and spaces", http.Header{"Content-Type": {" TEXT/HTML ;charset=UTF-8"}}, []byte("<p>"), false},
		{"xml", http.Header{"Content-Type": {"Application/XML"}}, []byte("<a/>"), false},
		{"javascript", http.Header{"Content-Type": {"application/javascript"}}, []byte("f()"), false},
		{"no content type", http.Header{}, []byte("plain"), true},
		{"octet-stream", http.Header{"Content-Type": {"application/octet-stream"}}, bin, true},
		{"image", http.Header{"Content-Type": {"image/png"}}, bin, true},
		{"json suffix", http.Header{"Content-Type": {"application/problem+json"}}, []byte(`{}`), true},
		{"text/ alone", http.Header{"Content-Type": {"text/"}}, []byte("x"), true},
		{"content-encoding", http.Header{"Content-Type": {"text/plain"}, "Content-Encoding": {"gzip"}}, []byte("\x1f\x8b"), true},
		{"text that is not UTF-8", http.Header{"Content-Type": {"text/plain; charset=iso-8859-1"}}, []byte("caf\xe9"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Request{Method: "POST", Target: "/", Header: tc.header, Body: tc.body}
			var e1 lambdatest.EventV1
			strictJSON(t, AppendV1(nil, r), &e1, v1Keys...)
			var e2 lambdatest.EventV2
			strictJSON(t, AppendV2(nil, r), &e2, v2Keys...)
			for _, got := range []struct {
				body string
				b64  bool
			}{{e1.Body, e1.IsBase64Encoded}, {e2.Body, e2.IsBase64Encoded}} {
				if got.b64 != tc.b64 {
					t.Fatalf("base64 %v, want %v", got.b64, tc.b64)
				}
				body := []byte(got.body)
				if got.b64 {
					var err error
					if body, err = base64.StdEncoding.DecodeString(got.body); err != nil {
						t.Fatal(err)
					}
				}
				if !bytes.Equal(body, tc.body) {
					t.Fatalf("body %q, want %q", body, tc.body)
				}
			}
		})
	}
}

// TestEventQuery: query parameters decoded, grouped in V2 and last-wins
// in V1, with the edge cases of a query string.
func TestEventQuery(t *testing.T) {
	many := make([]string, 0, 150)
	for i := range 150 {
		many = append(many, "k"+string(rune('a'+i%3))+"="+string(rune('0'+i%10)))
	}
	for _, tc := range []struct {
		name   string
		target string
		v1     map[string]string
		v2     map[string][]string
	}{
		{"none", "/p", map[string]string{}, map[string][]string{}},
		{"empty", "/p?", map[string]string{}, map[string][]string{}},
		{"repeated", "/p?a=1&b=2&a=3", map[string]string{"a": "3", "b": "2"}, map[string][]string{"a": {"1", "3"}, "b": {"2"}}},
		{"no value", "/p?flag&x=", map[string]string{"flag": "", "x": ""}, map[string][]string{"flag": {""}, "x": {""}}},
		{"empty pairs", "/p?&&a=1&&", map[string]string{"a": "1"}, map[string][]string{"a": {"1"}}},
		{"escapes", "/p?na%6De=J%C3%BCrgen+M&%2B=%26", map[string]string{"name": "Jürgen M", "+": "&"}, map[string][]string{"name": {"Jürgen M"}, "+": {"&"}}},
		{"same key escaped differently", "/p?ab=1&%61b=2", map[string]string{"ab": "2"}, map[string][]string{"ab": {"1", "2"}}},
		{"invalid escape kept", "/p?a=%zz%4&b=100%", map[string]string{"a": "%zz%4", "b": "100%"}, map[string][]string{"a": {"%zz%4"}, "b": {"100%"}}},
		{"semicolon is not a separator", "/p?a=1;b=2", map[string]string{"a": "1;b=2"}, map[string][]string{"a": {"1;b=2"}}},
		{"equals in value", "/p?a=b=c", map[string]string{"a": "b=c"}, map[string][]string{"a": {"b=c"}}},
		{"quote and control", "/p?a=%22%0A%00", map[string]string{"a": "\"\n\x00"}, map[string][]string{"a": {"\"\n\x00"}}},
		{"many pairs", "/p?" + strings.Join(many, "&"),
			map[string]string{"ka": "7", "kb": "8", "kc": "9"},
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Request{Method: "GET", Target: tc.target, Header: http.Header{}}
			var e1 lambdatest.EventV1
			strictJSON(t, AppendV1(nil, r), &e1, v1Keys...)
			if d := cmp.Diff(tc.v1, e1.Query); d != "" {
				t.Fatalf("V1 (-want +got):\n%s", d)
			}
			var e2 lambdatest.EventV2
			strictJSON(t, AppendV2(nil, r), &e2, v2Keys...)
			if tc.v2 == nil {
				if len(e2.Query) != 3 || len(e2.Query["ka"]) != 50 {
					t.Fatalf("V2 many: %d keys, %d values of ka", len(e2.Query), len(e2.Query["ka"]))
				}
				return
			}
			if d := cmp.Diff(tc.v2, e2.Query); d != "" {
				t.Fatalf("V2 (-want +got):\n%s", d)
			}
		})
	}
}

// TestEventHeaders: names in lower case, names differing only in case
// merged, the client's Host field ignored for r.Host, and values that JSON
// must escape.
func TestEventHeaders(t *testing.T) {
	r := &Request{Method: "GET", Target: "/", Host: "svc.example", Header: http.Header{
		"X-Dup":  {"a"},
		"x-dup":  {"b"},
		"Host":   {"evil.example"},
		"X-Json": {`quote " backslash \ tab` + "\t"},
		"X-Bin":  {"caf\xe9"},
	}}
	var e1 lambdatest.EventV1
	strictJSON(t, AppendV1(nil, r), &e1, v1Keys...)
	if d := cmp.Diff(map[string]string{"host": "svc.example", "x-dup": "a, b", "x-json": `quote " backslash \ tab` + "\t",
		"x-bin": "caf\uFFFD"}, e1.Headers); d != "" {
		t.Fatalf("V1 headers (-want +got):\n%s", d)
	}
	var e2 lambdatest.EventV2
	strictJSON(t, AppendV2(nil, r), &e2, v2Keys...)
	if got := e2.Headers["x-dup"]; !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("V2 x-dup %q", got)
	}
	// More fields than the encoder's stack array.
	r.Header = http.Header{}
	for i := range 100 {
		r.Header["X-H"+strings.Repeat("a", i)] = []string{"v"}
	}
	e2 = lambdatest.EventV2{}
	strictJSON(t, AppendV2(nil, r), &e2, v2Keys...)
	if len(e2.Headers) != 101 {
		t.Fatalf("%d headers, want 101", len(e2.Headers))
	}
}

// TestEventLargeBody: a body at the limit is encoded whole.
func TestEventLargeBody(t *testing.T) {
	body := bytes.Repeat([]byte{0xfe, 'a'}, MaxPayload/2)
	r := &Request{Method: "PUT", Target: "/blob", Header: http.Header{"Content-Type": {"application/octet-stream"}}, Body: body}
	var e2 lambdatest.EventV2
	strictJSON(t, AppendV2(nil, r), &e2, v2Keys...)
	got, err := base64.StdEncoding.DecodeString(e2.Body)
	if err != nil || !bytes.Equal(got, body) || !e2.IsBase64Encoded {
		t.Fatalf("a %d-byte body came back as %d bytes (%v)", len(body), len(got), err)
	}
}
