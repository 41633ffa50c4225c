package lambda

import (
	"testing"
)

// BenchmarkEncodeV1 and BenchmarkEncodeV2 encode a typical request (a
// dozen fields with Lattice's, a query with a repeated key, a small JSON
// body) into a reused buffer, as the proxy does.
func BenchmarkEncodeV1(b *testing.B) { benchEncode(b, EventV1) }
func BenchmarkEncodeV2(b *testing.B) { benchEncode(b, EventV2) }

func benchEncode(b *testing.B, v string) {
	r := typical()
	buf := AppendEvent(nil, v, r)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEvent(buf[:0], v, r)
	}
}

// BenchmarkDecodeResponse decodes a typical function response: a status,
// a few headers (one with several values) and a small JSON body.
func BenchmarkDecodeResponse(b *testing.B) {
	payload := []byte(`{"statusCode":200,"statusDescription":"200 OK","isBase64Encoded":false,` +
		`"headers":{"content-type":"application/json","cache-control":"no-store","x-request-id":"4c1a8f0e"},` +
		`"multiValueHeaders":{"set-cookie":["a=1; Path=/","b=2; Path=/"]},` +
		`"body":"{\"id\":42,\"items\":[{\"sku\":\"A-1\",\"quantity\":3}],\"status\":\"open\"}"}`)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeResponse(payload); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEncodeAllocations pins the encoder's promise: a warm buffer, no
// allocation for a typical request.
func TestEncodeAllocations(t *testing.T) {
	r := typical()
	for _, v := range []string{EventV1, EventV2} {
		buf := AppendEvent(nil, v, r)
		if n := testing.AllocsPerRun(100, func() { buf = AppendEvent(buf[:0], v, r) }); n != 0 {
			t.Errorf("%s: %.1f allocations per event, want 0", v, n)
		}
	}
}
