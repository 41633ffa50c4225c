package sigv4

import (
	"context"
	"net/http"
	"testing"
)

// BenchmarkVerify measures Verify on requests signed by the SDK signer (the
// test-only SigV4A signer for sigv4a) and parsed as a server sees them. The
// KeyStore is an in-memory map.
func BenchmarkVerify(b *testing.B) {
	body := []byte(`{"name":"payments","authType":"AWS_IAM","tags":{"env":"prod"}}`)
	cases := []struct {
		name    string
		v       *Verifier
		spec    signSpec
		payload string
	}{
		{"control-plane-get", newVerifier("vpc-lattice"),
			signSpec{method: "GET", target: "/services?maxResults=10&nextToken=abc"}, ""},
		{"control-plane-post", newVerifier("vpc-lattice"),
			signSpec{method: "POST", target: arnPath, body: body, header: http.Header{
				"Content-Type": {"application/json"}, "Amz-Sdk-Invocation-Id": {"4ce8a2b0-5c1f-4c6e-9a57-3f0d2c9e8b11"},
				"Amz-Sdk-Request": {"attempt=1; max=3"}}}, hashHex(body)},
		{"data-plane-unsigned", func() *Verifier {
			v := newVerifier("vpc-lattice-svcs")
			v.AllowUnsignedPayload = true
			return v
		}(), signSpec{method: "POST", target: "/orders/42?expand=items", body: body, service: "vpc-lattice-svcs",
			payload: UnsignedPayload, header: http.Header{"X-Amz-Content-Sha256": {UnsignedPayload},
				"Content-Type": {"application/json"}}}, ""},
		{"presigned", newVerifier("vpc-lattice"),
			signSpec{method: "GET", target: "/services?X-Amz-Expires=300"}, ""},
		// The data plane's SigV4A request: ECDSA P-256 verification
		// dominates (the derived public key is cached).
		{"sigv4a", dataPlaneA(), unsignedGet, ""},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var r *http.Request
			switch c.name {
			case "presigned":
				r = sdkPresign(b, c.spec)
			case "sigv4a":
				r = signA(b, c.spec, "*")
			default:
				r = sdkSign(b, c.spec)
			}
			ctx := context.Background()
			if _, err := c.v.Verify(ctx, r, c.payload); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.v.Verify(ctx, r, c.payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestVerifyAllocations keeps the hot path allocation-free apart from the
// *Result it returns.
func TestVerifyAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	body := []byte(`{"a":1}`)
	v := newVerifier("vpc-lattice-svcs")
	v.AllowUnsignedPayload = true
	for _, c := range []struct {
		spec    signSpec
		payload string
	}{
		{signSpec{method: "POST", target: arnPath + "?tagKeys=b&tagKeys=a%20b", body: body, service: "vpc-lattice-svcs",
			header: http.Header{"Content-Type": {"application/json"}, "X-Odd": {"a   b"}}}, hashHex(body)},
		{signSpec{method: "GET", target: "/x", service: "vpc-lattice-svcs", payload: UnsignedPayload,
			header: http.Header{"X-Amz-Content-Sha256": {UnsignedPayload}}, akid: tempAKID, secret: tempSecret, token: tempToken}, ""},
	} {
		r := sdkSign(t, c.spec)
		n := testing.AllocsPerRun(200, func() {
			if _, err := v.Verify(context.Background(), r, c.payload); err != nil {
				t.Fatal(err)
			}
		})
		if n > 1 {
			t.Errorf("%s %s: %v allocations per Verify, want 1", c.spec.method, c.spec.target, n)
		}
	}
}

// BenchmarkDeriveECDSAKey measures a SigV4A key derivation, the cost of a
// key cache miss.
func BenchmarkDeriveECDSAKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := deriveECDSAKey(testAKID, testSecret); err != nil {
			b.Fatal(err)
		}
	}
}
