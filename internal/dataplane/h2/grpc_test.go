package h2

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// rawCodec carries bytes as they are: no protobuf needed.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(b []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), b...)
	return nil
}
func (rawCodec) Name() string { return "raw" }

// grpcEcho answers a unary gRPC call the way a target behind the proxy
// does: the message echoed in a length-prefixed frame, the status in
// trailers.
func grpcEcho(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || len(body) < 5 || int(binary.BigEndian.Uint32(body[1:5])) != len(body)-5 {
		w.WriteHeader(400)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/grpc")
	h.Set("Trailer", "Grpc-Status")
	w.WriteHeader(200)
	w.(http.Flusher).Flush()
	w.Write(body)
	w.(http.Flusher).Flush()
	h.Set("Grpc-Status", "0")
}

// TestGRPCClient drives the server with grpc-go's client (its BDP pings,
// its window updates, trailers): 64 callers on 4 connections, no call may
// fail or stall.
func TestGRPCClient(t *testing.T) {
	noLeak(t)
	_, addr := newServer(t, grpcEcho)
	var conns []*grpc.ClientConn
	for i := 0; i < 4; i++ {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		conns = append(conns, cc)
	}
	var calls, failed atomic.Int64
	stop := time.Now().Add(2 * time.Second)
	var wg sync.WaitGroup
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cc := conns[g%len(conns)]
			msg := make([]byte, 64+g)
			for time.Now().Before(stop) {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				var out []byte
				err := cc.Invoke(ctx, "/test.Echo/Call", &msg, &out)
				cancel()
				calls.Add(1)
				if err != nil || len(out) != len(msg) {
					if failed.Add(1) < 5 {
						t.Errorf("call: %v (%d bytes back)", err, len(out))
					}
					if errors.Is(err, context.DeadlineExceeded) {
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d calls, %d failed", calls.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Fatalf("%d of %d calls failed", failed.Load(), calls.Load())
	}
}
