package grpcwire

import (
	"context"
	"github.com/trellis-net/trellis/internal/hexdigit"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func TestFromHTTPStatus(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   Code
	}{
		{400, Internal},
		{401, Unauthenticated},
		{403, PermissionDenied},
		{404, Unimplemented},
		{429, Unavailable},
		{502, Unavailable},
		{503, Unavailable},
		{504, Unavailable},
		{500, Unknown},
		{405, Unknown},
		{200, Unknown},
		{0, Unknown},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			if got := FromHTTPStatus(tc.status); got != tc.want {
				t.Fatalf("FromHTTPStatus(%d) = %v, want %v", tc.status, got, tc.want)
			}
		})
	}
}

func TestAppendMessage(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"plain text ~!", "plain text ~!"},
		{"100%", "100%25"},
		{"line\r\nbreak", "line%0D%0Abreak"},
		{"tab\there", "tab%09here"},
		{"\x00\x7f", "%00%7F"},
		{"caf\u00e9 ☺", "caf%C3%A9 %E2%98%BA"},
		{"\xff", "%FF"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := string(AppendMessage(nil, tc.in)); got != tc.want {
				t.Fatalf("AppendMessage(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if got := encodeMessage(tc.in); got != tc.want {
				t.Fatalf("encodeMessage(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if got := DecodeMessage(tc.want); got != tc.in {
				t.Fatalf("DecodeMessage(%q) = %q, want %q", tc.want, got, tc.in)
			}
		})
	}
}

func TestDecodeMessageLenient(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"%", "%"},
		{"%4", "%4"},
		{"%zz", "%zz"},
		{"a%41%4", "aA%4"},
		{"%e2%98%ba", "☺"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := DecodeMessage(tc.in); got != tc.want {
				t.Fatalf("DecodeMessage(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestEncodeMessageNoAllocWhenPlain(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = encodeMessage("no service named x.example") }); n != 0 {
		t.Fatalf("%v allocations, want 0", n)
	}
}

// FuzzMessage checks that an encoded message is plain visible ASCII
// without a bare '%' and decodes back to the input.
func FuzzMessage(f *testing.F) {
	for _, s := range []string{"", "abc", "100%", "\r\n", "caf\u00e9", "\xff\x00", "%zz", "%41"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		enc := string(AppendMessage(nil, msg))
		for i := 0; i < len(enc); i++ {
			c := enc[i]
			if c < 0x20 || c > 0x7e {
				t.Fatalf("encoded %q holds byte %#x", msg, c)
			}
			if c == '%' && (i+2 >= len(enc) || !isHex(enc[i+1]) || !isHex(enc[i+2])) {
				t.Fatalf("encoded %q holds a bare %%: %q", msg, enc)
			}
		}
		if got := DecodeMessage(enc); got != msg {
			t.Fatalf("DecodeMessage(AppendMessage(%q)) = %q", msg, got)
		}
		_ = DecodeMessage(msg) // must not panic on any input
	})
}

func isHex(c byte) bool { _, ok := hexdigit.Value(c); return ok }

// TestWriteErrorWithGRPCClient answers a real grpc-go client over h2c
// with WriteError and checks the code and message it reports, and that the
// headers set before (x-amzn-requestid) reach it.
func TestWriteErrorWithGRPCClient(t *testing.T) {
	type answer struct {
		code Code
		http int // WriteHTTPError when non-zero
		msg  string
	}
	var want answer
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amzn-Requestid", "req-1")
		w.Header().Set("Content-Length", "12")
		if want.http != 0 {
			WriteHTTPError(w, want.http, want.msg)
			return
		}
		WriteError(w, want.code, want.msg)
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)

	cc, err := grpc.NewClient(srv.Listener.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	client := healthpb.NewHealthClient(cc)

	for _, tc := range []struct {
		name     string
		a        answer
		wantCode codes.Code
		wantMsg  string
	}{
		{"unimplemented", answer{code: Unimplemented, msg: "no service x.example"}, codes.Unimplemented, "no service x.example"},
		{"permission denied with escapes", answer{code: PermissionDenied, msg: "AccessDeniedException: 100% denied\r\nnext ☺"},
			codes.PermissionDenied, "AccessDeniedException: 100% denied\r\nnext ☺"},
		{"literal percent escapes", answer{code: NotFound, msg: "key %41%zz 100%"}, codes.NotFound, "key %41%zz 100%"},
		{"empty message", answer{code: Unavailable}, codes.Unavailable, ""},
		{"OK becomes UNKNOWN", answer{code: OK, msg: "x"}, codes.Unknown, "x"},
		{"out of range code", answer{code: 99, msg: "x"}, codes.Unknown, "x"},
		{"HTTP 403", answer{http: 403, msg: "denied"}, codes.PermissionDenied, "denied"},
		{"HTTP 404", answer{http: 404, msg: "Non Existent Service"}, codes.Unimplemented, "Non Existent Service"},
		{"HTTP 503", answer{http: 503, msg: "no healthy target"}, codes.Unavailable, "no healthy target"},
		{"HTTP 504", answer{http: 504, msg: "target timed out"}, codes.Unavailable, "target timed out"},
		{"HTTP 500", answer{http: 500, msg: "cannot connect"}, codes.Unknown, "cannot connect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want = tc.a
			var hdr, trl metadata.MD
			_, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{}, grpc.Header(&hdr), grpc.Trailer(&trl))
			st, _ := status.FromError(err)
			if st.Code() != tc.wantCode || st.Message() != tc.wantMsg {
				t.Fatalf("status = %v %q, want %v %q", st.Code(), st.Message(), tc.wantCode, tc.wantMsg)
			}
			// Trailers-only: grpc-go reports the one header block as trailers.
			if got := trl.Get("x-amzn-requestid"); len(got) != 1 || got[0] != "req-1" {
				t.Fatalf("x-amzn-requestid = %q (header %v, trailer %v)", got, hdr, trl)
			}
		})
	}
}
