package pathnorm

import "testing"

// Benchmarks for the cost doc.go promises. Typical API paths: the common
// case is already normal and must cost one pass and no allocation.
var (
	benchNormal = "/api/v1/accounts/123456789012/orders/ord-42/items"
	benchDirty  = "/api//v1/./accounts/123456789012/x/../orders/%6Frd-42/items"
)

func BenchmarkNormalize(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"normal", benchNormal},
		{"normal-escaped", "/files/report%202024/caf%C3%A9.pdf"},
		{"dirty", benchDirty},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				if _, err := Normalize(bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkTarget(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"normal", benchNormal + "?limit=10"},
		{"dirty", benchDirty + "?limit=10"},
		{"absolute-dirty", "http://svc.example" + benchDirty + "?limit=10"},
		{"dirty-escaped", "/files//report%202024/./caf%c3%a9.pdf?x"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				if _, _, err := Target(bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
