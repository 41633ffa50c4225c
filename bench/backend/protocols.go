package main

// The backend's other protocols, each on its own listener so that the
// hand-written HTTP/1.1 loop stays what it is: a gRPC server (grpc-go's
// interop TestService, no protoc needed) and a WebSocket echo. The
// protocols suite of bench/harness measures them through the proxies.

import (
	"context"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

// testService answers EmptyCall and UnaryCall; the rest stay unimplemented.
type testService struct {
	testgrpc.UnimplementedTestServiceServer
}

func (testService) EmptyCall(context.Context, *testgrpc.Empty) (*testgrpc.Empty, error) {
	return &testgrpc.Empty{}, nil
}

// UnaryCall answers a payload of the requested size (capped at 64 KiB: the
// benchmark asks for small answers, nothing else should cost the backend).
func (testService) UnaryCall(_ context.Context, in *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	n := min(max(in.GetResponseSize(), 0), 64<<10)
	return &testgrpc.SimpleResponse{Payload: &testgrpc.Payload{Body: make([]byte, n)}}, nil
}

// serveGRPC serves the TestService (h2c, prior knowledge) on ln until it
// is closed.
func serveGRPC(ln net.Listener) error {
	s := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(s, testService{})
	return s.Serve(ln)
}

// wsUpgrader accepts any origin: the benchmark's clients send none or the
// proxy's, and the echo has nothing to protect.
var wsUpgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 4096,
	CheckOrigin:     func(*http.Request) bool { return true },
}

// wsEcho sends every message back as it came (text or binary) until the
// client closes.
func wsEcho(w http.ResponseWriter, r *http.Request) {
	c, err := wsUpgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered the error
	}
	defer c.Close()
	c.SetReadLimit(1 << 20)
	for {
		typ, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(typ, msg); err != nil {
			return
		}
	}
}

// serveWS serves the WebSocket echo on every path of ln.
func serveWS(ln net.Listener) error {
	s := &http.Server{Handler: http.HandlerFunc(wsEcho), ReadHeaderTimeout: 10 * time.Second}
	return s.Serve(ln)
}

// serveTCPEcho writes back every byte each connection sends until the
// client closes it: the resource on the far side of a resource gateway in
// the resource relay's benchmark (bench/protoload -mode tcp, tcpconn).
func serveTCPEcho(ln net.Listener) error {
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			defer c.Close()
			_, _ = io.Copy(c, c)
		}()
	}
}
