package main

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

func serveOn(t *testing.T, serve func(net.Listener) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go serve(ln)
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

func TestGRPCTestService(t *testing.T) {
	addr := serveOn(t, serveGRPC)
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cl := testgrpc.NewTestServiceClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name      string
		ask, want int32
	}{{"64 bytes", 64, 64}, {"none", 0, 0}, {"negative", -5, 0}, {"capped", 1 << 20, 64 << 10}} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := cl.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseSize: tc.ask})
			if err != nil {
				t.Fatal(err)
			}
			if n := len(res.GetPayload().GetBody()); n != int(tc.want) {
				t.Errorf("payload %d bytes, want %d", n, tc.want)
			}
		})
	}
	if _, err := cl.EmptyCall(ctx, &testgrpc.Empty{}); err != nil {
		t.Error(err)
	}
}

func TestWebSocketEcho(t *testing.T) {
	addr := serveOn(t, serveWS)
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/any/path", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		name string
		typ  int
		msg  []byte
	}{{"binary", websocket.BinaryMessage, bytes.Repeat([]byte{1}, 64)}, {"text", websocket.TextMessage, []byte("hello")}} {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.WriteMessage(tc.typ, tc.msg); err != nil {
				t.Fatal(err)
			}
			typ, got, err := c.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			if typ != tc.typ || !bytes.Equal(got, tc.msg) {
				t.Errorf("echo: type %d %q, want %d %q", typ, got, tc.typ, tc.msg)
			}
		})
	}
}
