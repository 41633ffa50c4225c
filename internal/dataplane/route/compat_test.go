package route

import (
	"net/http"
	"strings"
	"testing"
)

// TestCompatibleMatrix pins every cell of the request × protocol version
// matrix of reference §6, and the method rule of the HTTP/2→GRPC cell.
func TestCompatibleMatrix(t *testing.T) {
	type req struct {
		major  int
		grpc   bool
		method string
	}
	var (
		h1       = req{1, false, http.MethodGet}
		h1Post   = req{1, false, http.MethodPost}
		h1GRPCCT = req{1, true, http.MethodPost} // gRPC content type over HTTP/1.1 is not gRPC
		h2       = req{2, false, http.MethodGet}
		h2Post   = req{2, false, http.MethodPost}
		h2Put    = req{2, false, http.MethodPut}
		grpc     = req{2, true, http.MethodPost}
		grpcGet  = req{2, true, http.MethodGet} // not a valid gRPC call, but gRPC by content type
		h0       = req{0, false, http.MethodGet}
	)
	for _, tc := range []struct {
		name    string
		r       req
		version string
		reason  string // "" = ok
	}{
		{"HTTP/1.1 to HTTP1", h1, "HTTP1", ""},
		{"HTTP/1.1 to default version", h1, "", ""},
		{"HTTP/1.x unknown minor to HTTP1", h0, "HTTP1", ""},
		{"HTTP/2 to HTTP1", h2, "HTTP1", ""},
		{"gRPC to HTTP1", grpc, "HTTP1", ReasonGRPCToHTTP1},
		{"gRPC to default version", grpc, "", ReasonGRPCToHTTP1},
		{"gRPC content type over HTTP/1.1 to HTTP1", h1GRPCCT, "HTTP1", ""},

		{"HTTP/1.1 to HTTP2", h1, "HTTP2", ReasonHTTP1ToHTTP2},
		{"HTTP/1.1 POST to HTTP2", h1Post, "HTTP2", ReasonHTTP1ToHTTP2},
		{"HTTP/2 to HTTP2", h2, "HTTP2", ""},
		{"gRPC to HTTP2", grpc, "HTTP2", ""},

		{"HTTP/1.1 to GRPC", h1, "GRPC", ReasonHTTP1ToGRPC},
		{"HTTP/1.1 POST to GRPC", h1Post, "GRPC", ReasonHTTP1ToGRPC},
		{"gRPC content type over HTTP/1.1 to GRPC", h1GRPCCT, "GRPC", ReasonHTTP1ToGRPC},
		{"HTTP/2 GET to GRPC", h2, "GRPC", ReasonMethodToGRPC},
		{"HTTP/2 PUT to GRPC", h2Put, "GRPC", ReasonMethodToGRPC},
		{"HTTP/2 POST to GRPC", h2Post, "GRPC", ""},
		{"gRPC to GRPC", grpc, "GRPC", ""},
		{"gRPC content type with GET to GRPC", grpcGet, "GRPC", ""},

		{"unknown version", h2, "HTTP3", ReasonUnknownTarget},
		{"lower-case version is unknown", h1, "http1", ReasonUnknownTarget},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, reason := Compatible(tc.r.major, tc.r.grpc, tc.r.method, tc.version)
			if ok != (tc.reason == "") || reason != tc.reason {
				t.Fatalf("Compatible(%d, %v, %q, %q) = %v, %q; want ok=%v, %q",
					tc.r.major, tc.r.grpc, tc.r.method, tc.version, ok, reason, tc.reason == "", tc.reason)
			}
		})
	}
}

func TestIsGRPC(t *testing.T) {
	for _, tc := range []struct {
		ct   string
		want bool
	}{
		{"application/grpc", true},
		{"application/grpc+proto", true},
		{"application/grpc+json", true},
		{"application/grpc+custom-codec", true},
		{"application/grpc;charset=utf-8", true},
		{"application/grpc ; x=y", true},
		{"application/grpc ", true},
		{"Application/GRPC", true},
		{"APPLICATION/GRPC+PROTO", true},
		{"application/grpc-web", false},
		{"application/grpc-web+proto", false},
		{"application/grpc-web-text", false},
		{"application/grpcx", false},
		{"application/grpc x", false},
		{"application/grp", false},
		{"application/json", false},
		{"", false},
		{" application/grpc", false},
		{"text/grpc", false},
		{"application/gr\u212apc", false}, // Kelvin sign: no Unicode folding into ASCII
	} {
		t.Run(tc.ct, func(t *testing.T) {
			if got := IsGRPC(tc.ct); got != tc.want {
				t.Fatalf("IsGRPC(%q) = %v, want %v", tc.ct, got, tc.want)
			}
		})
	}
}

func TestIsGRPCRequest(t *testing.T) {
	for _, tc := range []struct {
		name  string
		major int
		ct    []string
		want  bool
	}{
		{"HTTP/2 gRPC", 2, []string{"application/grpc"}, true},
		{"HTTP/2 JSON", 2, []string{"application/json"}, false},
		{"HTTP/2 no content type", 2, nil, false},
		{"HTTP/1.1 gRPC content type", 1, []string{"application/grpc"}, false},
		{"first value decides", 2, []string{"text/plain", "application/grpc"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{ProtoMajor: tc.major, Header: http.Header{}}
			if tc.ct != nil {
				r.Header["Content-Type"] = tc.ct
			}
			if got := IsGRPCRequest(r); got != tc.want {
				t.Fatalf("IsGRPCRequest = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCompatibleAllocs(t *testing.T) {
	r := &http.Request{ProtoMajor: 2, Header: http.Header{"Content-Type": {"Application/gRPC+proto"}}}
	n := testing.AllocsPerRun(100, func() {
		g := IsGRPCRequest(r)
		if ok, _ := Compatible(r.ProtoMajor, g, http.MethodGet, "HTTP1"); ok {
			t.Fatal("gRPC to HTTP1 allowed")
		}
		if ok, _ := Compatible(1, false, http.MethodGet, "GRPC"); ok {
			t.Fatal("HTTP/1.1 to GRPC allowed")
		}
		_ = IsGRPC("application/grpc ; a=b")
	})
	if n != 0 {
		t.Fatalf("%v allocations per run, want 0", n)
	}
}

// FuzzIsGRPC checks IsGRPC against a plain reference: lower-case the
// ASCII letters, then accept the base type alone or followed by '+', ';' or
// blanks up to a ';' or the end.
func FuzzIsGRPC(f *testing.F) {
	for _, s := range []string{"application/grpc", "application/grpc+proto", "application/grpc-web",
		"APPLICATION/GRPC;a=b", "application/grpc \t;", "application/grpc  x", "", "application/gr\u212apc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ct string) {
		lower := []byte(ct)
		for i, c := range lower {
			if 'A' <= c && c <= 'Z' {
				lower[i] = c + 'a' - 'A'
			}
		}
		rest, found := strings.CutPrefix(string(lower), "application/grpc")
		want := found && (rest == "" || rest[0] == '+' || rest[0] == ';' ||
			strings.TrimLeft(rest, " \t") == "" || strings.TrimLeft(rest, " \t")[0] == ';')
		if got := IsGRPC(ct); got != want {
			t.Fatalf("IsGRPC(%q) = %v, want %v", ct, got, want)
		}
	})
}
