package tracing

import (
	"strings"
	"testing"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"
)

// FuzzAttributeEncoding: whatever a client puts in a value that becomes a
// span attribute (a path, a Host), the hand-written encoder's output is a
// message the official OTLP definitions decode, with the value as it was
// (valid UTF-8, at most maxAttrLen characters) — never one that makes a
// receiver refuse the whole batch.
func FuzzAttributeEncoding(f *testing.F) {
	f.Add("url.path", "/orders/1", int64(7), 1.5, true)
	f.Add("url.path", "/caf\xc3\xa9/\xff\xfe", int64(-1), -0.0, false)
	f.Add("server.address", strings.Repeat("é", maxAttrLen+3), int64(1)<<62, 1e308, true)
	f.Fuzz(func(t *testing.T, key, val string, i int64, fl float64, bo bool) {
		if !utf8.ValidString(key) { // keys are the encoder's own constants
			t.Skip()
		}
		kvs := []attribute.KeyValue{attribute.String(key, val), attribute.Int64(key, i), attribute.Float64(key, fl),
			attribute.Bool(key, bo), attribute.StringSlice(key, []string{val, key})}
		var b []byte
		for _, kv := range kvs {
			b = appendKeyValue(b, 1, kv)
		}
		var res resourcepb.Resource
		if err := proto.Unmarshal(b, &res); err != nil {
			t.Fatalf("the official definitions refuse the encoding of %q: %v", val, err)
		}
		if len(res.Attributes) != len(kvs) {
			t.Fatalf("%d attributes decoded, want %d", len(res.Attributes), len(kvs))
		}
		want := strings.ToValidUTF8(val, "\uFFFD")
		if r := []rune(want); len(r) > maxAttrLen {
			want = string(r[:maxAttrLen])
		}
		for _, a := range res.Attributes {
			if a.Key != key {
				t.Fatalf("key %q decoded as %q", key, a.Key)
			}
		}
		if got := res.Attributes[0].Value.GetStringValue(); got != want {
			t.Fatalf("string %q decoded as %q, want %q", val, got, want)
		}
		if got := res.Attributes[1].Value.GetIntValue(); got != i {
			t.Fatalf("int %d decoded as %d", i, got)
		}
		if got := res.Attributes[2].Value.GetDoubleValue(); got != fl && !(got != got && fl != fl) {
			t.Fatalf("double %v decoded as %v", fl, got)
		}
		if got := res.Attributes[3].Value.GetBoolValue(); got != bo {
			t.Fatalf("bool %v decoded as %v", bo, got)
		}
		if got := res.Attributes[4].Value.GetArrayValue().GetValues(); len(got) != 2 || got[0].GetStringValue() != want {
			t.Fatalf("string slice decoded as %v", got)
		}
	})
}
