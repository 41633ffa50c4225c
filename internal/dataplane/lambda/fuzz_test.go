package lambda

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/http/httpguts"

	"github.com/trellis-net/trellis/internal/dataplane/lambda/lambdatest"
)

// asJSON is s as encoding/json gives it back: every byte that is not part
// of valid UTF-8 becomes U+FFFD.
func asJSON(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

// FuzzEncode: whatever the request, the event is valid JSON that
// encoding/json decodes back to the request's values (as JSON can carry
// them), in both versions.
func FuzzEncode(f *testing.F) {
	f.Add("GET", "/p?a=1&a=2&b", "X-A", "v", "x-b", "w", "text/plain", []byte("hello"))
	f.Add("POST", "/%2F?q=a+b&%zz=1", "Content-Encoding", "gzip", "X-Q", "\"\\\x00\x7f", "application/json", []byte{0xff, 0})
	f.Add("PUT", "/\u2028?\xff=\xfe", "X-\xff", "caf\xe9", "X-C", "", "TEXT/HTML; charset=x", []byte("<\xe9>"))
	f.Fuzz(func(t *testing.T, method, target, k1, v1, k2, v2, ct string, body []byte) {
		if asJSON(toLower(k1)) == asJSON(toLower(k2)) || equalFold(k1, "host") || equalFold(k2, "host") {
			return
		}
		h := http.Header{k1: {v1, v2}, k2: {v2}, "Content-Type": {ct}}
		if equalFold(k1, "content-type") || equalFold(k2, "content-type") {
			delete(h, "Content-Type")
		}
		r := &Request{Method: method, Target: target, Host: "h", Header: h, Body: body,
			Context: RequestContext{Region: v1, Identity: Identity{Principal: v2}, Time: time.Unix(1, 0)}}
		b64 := len(body) > 0 && !TextBody(h, body)

		var e1 lambdatest.EventV1
		b := AppendV1(nil, r)
		if err := json.Unmarshal(b, &e1); err != nil {
			t.Fatalf("V1 %q: %v", b, err)
		}
		var e2 lambdatest.EventV2
		b = AppendV2(nil, r)
		if err := json.Unmarshal(b, &e2); err != nil {
			t.Fatalf("V2 %q: %v", b, err)
		}
		if e1.Method != asJSON(method) || e2.Method != asJSON(method) || e1.RawPath != asJSON(target) || e2.Path != asJSON(target) {
			t.Fatalf("method/path: %q %q %q %q", e1.Method, e1.RawPath, e2.Method, e2.Path)
		}
		if e2.RequestContext.Region != asJSON(v1) || e2.RequestContext.Identity["principal"] != asJSON(v2) && v2 != "" {
			t.Fatalf("requestContext %+v", e2.RequestContext)
		}
		for k, vs := range h {
			lk := asJSON(toLower(k)) // ASCII only: field names are tokens
			want := make([]string, len(vs))
			for i, v := range vs {
				want[i] = asJSON(v)
			}
			if got := e2.Headers[lk]; !slices.Equal(got, want) {
				t.Fatalf("V2 header %q: %q, want %q", lk, got, want)
			}
			if got := e1.Headers[lk]; got != strings.Join(want, ", ") {
				t.Fatalf("V1 header %q: %q, want %q", lk, got, want)
			}
		}
		if e1.IsBase64Encoded != b64 || e2.IsBase64Encoded != b64 {
			t.Fatalf("base64 %v %v, want %v", e1.IsBase64Encoded, e2.IsBase64Encoded, b64)
		}
		for _, got := range []string{e1.Body, e2.Body} {
			if b64 {
				dec, err := base64.StdEncoding.DecodeString(got)
				if err != nil || !bytes.Equal(dec, body) {
					t.Fatalf("base64 body %q: %v", got, err)
				}
			} else if got != string(body) {
				t.Fatalf("body %q, want %q", got, body)
			}
		}
		// The query, against net/url's decoding where it succeeds.
		q := query(target)
		var keys []string
		want := map[string][]string{}
		for _, p := range strings.Split(q, "&") {
			if p == "" {
				continue
			}
			k, v, _ := strings.Cut(p, "=")
			dk, err1 := url.QueryUnescape(k)
			dv, err2 := url.QueryUnescape(v)
			if err1 != nil || err2 != nil {
				return // invalid escapes: kept as sent, which net/url does not do
			}
			dk, dv = asJSON(dk), asJSON(dv)
			if _, ok := want[dk]; !ok {
				keys = append(keys, dk)
			}
			want[dk] = append(want[dk], dv)
		}
		if len(e2.Query) != len(want) || len(e1.Query) != len(want) {
			t.Fatalf("query %q: %v / %v, want %v", q, e2.Query, e1.Query, want)
		}
		for _, k := range keys {
			vs := want[k]
			if !slices.Equal(e2.Query[k], vs) || e1.Query[k] != vs[len(vs)-1] {
				t.Fatalf("query %q key %q: %q / %q, want %q", q, k, e2.Query[k], e1.Query[k], vs)
			}
		}
	})
}

// FuzzDecodeResponse: whatever a function returns, DecodeResponse either
// refuses it or gives an answer the data plane can write as it is.
func FuzzDecodeResponse(f *testing.F) {
	for _, s := range []string{
		`{"statusCode":200,"headers":{"content-type":"text/plain"},"body":"hi"}`,
		`{"statusCode":404,"statusDescription":"404 Not Found","multiValueHeaders":{"set-cookie":["a=1","b=2"]}}`,
		`{"statusCode":200,"body":"AAEC","isBase64Encoded":true}`,
		`{"statusCode":200,"headers":{"x":["a","b"],"connection":"x-y","x-y":"1"}}`,
		`{"statusCode":200,"headers":{"x":"a\r\nb"}}`,
		`{"statusCode":1e3}`, `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		res, err := DecodeResponse(payload)
		if err != nil {
			if res != nil {
				t.Fatal("a response with an error")
			}
			return
		}
		if res.StatusCode < 100 || res.StatusCode > 599 {
			t.Fatalf("status %d", res.StatusCode)
		}
		for k, vs := range res.Header {
			if !httpguts.ValidHeaderFieldName(k) || k != http.CanonicalHeaderKey(k) || ignoredField(k) || k == "Connection" {
				t.Fatalf("field %q", k)
			}
			for _, v := range vs {
				if !httpguts.ValidHeaderFieldValue(v) || strings.ContainsAny(v, "\r\n\x00") {
					t.Fatalf("field %q value %q", k, v)
				}
			}
		}
	})
}

// FuzzDecodeResponseDifferential: DecodeResponse, which reads the payload
// in place, answers what the encoding/json decoder it replaced answers
// (decodeResponseStd), on every payload where their documented
// differences do not apply: encoding/json matches member names regardless
// of case, merges a member given twice, and keeps headers whose names
// differ only in case apart.
func FuzzDecodeResponseDifferential(f *testing.F) {
	for _, s := range []string{
		`{"statusCode":200,"headers":{"content-type":"text/plain"},"body":"hi"}`,
		`{"statusCode":404,"statusDescription":"404 Not Found","multiValueHeaders":{"set-cookie":["a=1",null]},"headers":{"set-cookie":"x"}}`,
		`{"statusCode":200,"body":"AAEC","isBase64Encoded":true,"extra":[{"a":[1,2e5,-0.5]},true,null]}`,
		`{"statusCode":200,"headers":{"x":["a","b"],"connection":"x-y","x-y":"1","y":null}}`,
		`{"statusCode":200,"body":"\ud83d\ude00 \ud800 \u00e9\"\\\/\b\f\n\r\t","statusDescription":null}`,
		` { "statusCode" : 201 , "body" : "\u0041" } `, `{"statusCode":2e2}`, `[]`, `null`, `"x"`, `{}`, `{"statusCode":200}x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		got, err := DecodeResponse(payload)
		want, werr := decodeResponseStd(payload)
		if !comparableResponse(payload) {
			return
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: in place %v, encoding/json %v", payload, err, werr)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformedResponse) && !errors.Is(err, ErrPayloadTooLarge) {
				t.Fatalf("%q: error %v", payload, err)
			}
			return
		}
		for _, r := range []*Response{got, want} {
			if len(r.Header) == 0 {
				r.Header = nil
			}
			if len(r.Body) == 0 {
				r.Body = nil
			}
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("%q (-encoding/json +in place):\n%s", payload, d)
		}
	})
}

// comparableResponse reports whether payload is outside the documented
// differences of the two decoders (FuzzDecodeResponseDifferential).
func comparableResponse(payload []byte) bool {
	if !json.Valid(payload) {
		return true // both refuse it
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(payload, &top) != nil {
		return true // not an object: both refuse it
	}
	known := []string{"statusCode", "statusDescription", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
	d := json.NewDecoder(bytes.NewReader(payload))
	d.Token() // {
	seen := map[string]bool{}
	var names []string
	for d.More() {
		tok, _ := d.Token()
		k, _ := tok.(string)
		for _, m := range known {
			if strings.EqualFold(k, m) && k != m {
				return false
			}
		}
		if seen[k] && slices.Contains(known, k) {
			return false
		}
		seen[k] = true
		var raw json.RawMessage
		if d.Decode(&raw) != nil {
			return false
		}
		if k == "headers" || k == "multiValueHeaders" {
			hd := json.NewDecoder(bytes.NewReader(raw))
			if t, _ := hd.Token(); t != json.Delim('{') {
				continue
			}
			var own []string
			for hd.More() {
				tok, _ := hd.Token()
				n, _ := tok.(string)
				for _, o := range own {
					if strings.EqualFold(o, n) {
						return false // a name twice in one object
					}
				}
				own = append(own, n)
				var skip json.RawMessage
				if hd.Decode(&skip) != nil {
					return false
				}
			}
			for _, o := range own {
				for _, n := range names {
					if strings.EqualFold(o, n) && o != n {
						return false // names differing only in case across the two
					}
				}
			}
			names = append(names, own...)
		}
	}
	return true
}
