// Command protoload is the closed-loop load generator of the harness's
// protocols suite for what wrk and h2load cannot do: gRPC unary calls
// (grpc-go, h2c), WebSocket message round trips (gorilla/websocket) and new
// TLS handshakes per request with a chosen TLS version and no resumption.
// Each mode first probes once (a failed probe exits 1 with the reason: the
// harness reports the target as not serving the scenario), then keeps -c
// workers busy for -warmup plus -duration and prints one JSON object:
//
//	protoload -mode grpc -addr 127.0.0.1:9001 -authority svc.example -c 64 -duration 10s
//	protoload -mode ws -addr 127.0.0.1:8080 -host svc.example -c 32 -duration 10s
//	protoload -mode tls -addr 127.0.0.1:8443 -sni svc.example -ca ca.pem -tls 1.3 -c 32 -duration 10s
//	protoload -mode tcp -addr 127.200.0.9:5432 -c 32 -duration 10s        (echo round trips on held connections)
//	protoload -mode tcpconn -addr 127.200.0.9:5432 -c 32 -duration 10s    (connect, one round trip, close)
//
// It runs with GOMAXPROCS=1 unless the environment sets GOMAXPROCS.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

type config struct {
	mode      string
	addr      string
	host      string // Host / :authority / SNI
	path      string
	ca        string
	tlsVer    string
	conc      int
	conns     int
	size      int
	duration  time.Duration
	warmup    time.Duration
	timeout   time.Duration
	insecureT bool
}

// Result is what protoload prints.
type Result struct {
	Mode         string   `json:"mode"`
	Seconds      float64  `json:"seconds"`
	Requests     int64    `json:"requests"` // completed calls / round trips / handshakes with a good answer
	Errors       int64    `json:"errors"`
	PerSec       float64  `json:"perSec"`
	Detail       string   `json:"detail,omitempty"` // what was negotiated (TLS version, ...)
	ErrorSamples []string `json:"errorSamples,omitempty"`
}

func main() {
	var c config
	flag.StringVar(&c.mode, "mode", "", "grpc, ws, tls, tcp or tcpconn")
	flag.StringVar(&c.addr, "addr", "", "host:port to connect to")
	flag.StringVar(&c.host, "host", "", "Host header (ws, tls) / :authority (grpc) / SNI (tls)")
	flag.StringVar(&c.host, "authority", "", "same as -host")
	flag.StringVar(&c.host, "sni", "", "same as -host")
	flag.StringVar(&c.path, "path", "/", "request path (ws, tls)")
	flag.StringVar(&c.ca, "ca", "", "tls: PEM file of the CA the probe verifies the server's certificate with (SNI = -host); none: not verified")
	flag.StringVar(&c.tlsVer, "tls", "1.3", "tls: TLS version, 1.2 or 1.3")
	flag.IntVar(&c.conc, "c", 32, "workers (concurrent calls / WebSocket connections / handshakes in flight)")
	flag.IntVar(&c.conns, "conns", 4, "grpc: HTTP/2 connections the workers share")
	flag.IntVar(&c.size, "size", 64, "grpc: response payload bytes; ws, tcp, tcpconn: message bytes")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "measured time")
	flag.DurationVar(&c.warmup, "warmup", time.Second, "unmeasured time before")
	flag.DurationVar(&c.timeout, "timeout", 5*time.Second, "per call / handshake")
	flag.Parse()
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	r, err := run(c)
	if err != nil {
		fmt.Fprintln(os.Stderr, "protoload:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

// op is one unit of work of a worker; it reports an error, or nil for a
// good answer.
type op func(ctx context.Context) error

func run(c config) (*Result, error) {
	if c.addr == "" || c.conc < 1 || c.duration <= 0 {
		return nil, errors.New("need -addr, -c >= 1 and -duration > 0")
	}
	var (
		newWorker func() (op, func(), error)
		detail    string
		cleanup   func()
	)
	switch c.mode {
	case "grpc":
		nw, cl, err := grpcMode(c)
		if err != nil {
			return nil, err
		}
		newWorker, cleanup, detail = nw, cl, fmt.Sprintf("%d conns, UnaryCall with a %d-byte answer", c.conns, c.size)
	case "ws":
		nw, err := wsMode(c)
		if err != nil {
			return nil, err
		}
		newWorker, detail = nw, fmt.Sprintf("%d-byte binary messages echoed", c.size)
	case "tls":
		nw, d, err := tlsMode(c)
		if err != nil {
			return nil, err
		}
		newWorker, detail = nw, d
	case "tcp", "tcpconn":
		nw, err := tcpMode(c)
		if err != nil {
			return nil, err
		}
		newWorker = nw
		if c.mode == "tcp" {
			detail = fmt.Sprintf("%d-byte messages echoed on held connections", c.size)
		} else {
			detail = fmt.Sprintf("a new connection per %d-byte round trip", c.size)
		}
	default:
		return nil, fmt.Errorf("-mode: want grpc, ws, tls, tcp or tcpconn, got %q", c.mode)
	}
	if cleanup != nil {
		defer cleanup()
	}
	var (
		measuring atomic.Bool
		stop      atomic.Bool
		ok, bad   atomic.Int64
		mu        sync.Mutex
		samples   []string
		wg        sync.WaitGroup
		ready     sync.WaitGroup
	)
	sample := func(err error) {
		mu.Lock()
		if len(samples) < 5 {
			samples = append(samples, err.Error())
		}
		mu.Unlock()
	}
	var setupErr atomic.Value
	for i := 0; i < c.conc; i++ {
		wg.Add(1)
		ready.Add(1)
		go func() {
			defer wg.Done()
			o, closeFn, err := newWorker()
			ready.Done()
			if err != nil {
				setupErr.CompareAndSwap(nil, err)
				return
			}
			defer closeFn()
			for !stop.Load() {
				ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
				err := o(ctx)
				cancel()
				if !measuring.Load() || stop.Load() {
					if err != nil && errors.Is(err, errBroken) {
						return
					}
					continue
				}
				if err != nil {
					bad.Add(1)
					sample(err)
					if errors.Is(err, errBroken) {
						return
					}
					continue
				}
				ok.Add(1)
			}
		}()
	}
	ready.Wait()
	if err, _ := setupErr.Load().(error); err != nil {
		stop.Store(true)
		wg.Wait()
		return nil, err
	}
	time.Sleep(c.warmup)
	measuring.Store(true)
	start := time.Now()
	time.Sleep(c.duration)
	n, e := ok.Load(), bad.Load()
	el := time.Since(start).Seconds()
	stop.Store(true)
	wg.Wait()
	return &Result{Mode: c.mode, Seconds: el, Requests: n, Errors: e, PerSec: float64(n) / el, Detail: detail, ErrorSamples: samples}, nil
}

// errBroken wraps an error after which a worker's connection is unusable
// (a WebSocket): the worker stops and the error counts once.
var errBroken = errors.New("connection broken")

// grpcMode dials c.conns connections (h2c, prior knowledge) with
// :authority = c.host and probes one UnaryCall; workers take the
// connections round robin.
func grpcMode(c config) (func() (op, func(), error), func(), error) {
	var ccs []*grpc.ClientConn
	closeAll := func() {
		for _, cc := range ccs {
			cc.Close()
		}
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if c.host != "" {
		opts = append(opts, grpc.WithAuthority(c.host))
	}
	for i := 0; i < max(c.conns, 1); i++ {
		// Each ClientConn is its own HTTP/2 connection.
		cc, err := grpc.NewClient("passthrough:///"+c.addr, opts...)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		ccs = append(ccs, cc)
	}
	req := &testgrpc.SimpleRequest{ResponseSize: int32(c.size)}
	call := func(cl testgrpc.TestServiceClient) op {
		return func(ctx context.Context) error {
			res, err := cl.UnaryCall(ctx, req)
			if err != nil {
				return err
			}
			if n := len(res.GetPayload().GetBody()); n != c.size {
				return fmt.Errorf("answer payload %d bytes, want %d", n, c.size)
			}
			return nil
		}
	}
	for i, cc := range ccs {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		err := call(testgrpc.NewTestServiceClient(cc))(ctx)
		cancel()
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("probe UnaryCall on connection %d: %w", i, err)
		}
	}
	var next atomic.Int64
	return func() (op, func(), error) {
		cc := ccs[int(next.Add(1))%len(ccs)]
		return call(testgrpc.NewTestServiceClient(cc)), func() {}, nil
	}, closeAll, nil
}

// wsMode: each worker holds one WebSocket connection (Host = c.host) and
// sends a binary message, then waits for its echo. The probe is the first
// worker's handshake and round trip, done before the others start.
func wsMode(c config) (func() (op, func(), error), error) {
	u := "ws://" + c.addr + c.path
	dial := func() (*websocket.Conn, error) {
		d := websocket.Dialer{HandshakeTimeout: c.timeout, ReadBufferSize: 4096, WriteBufferSize: 4096}
		h := http.Header{}
		if c.host != "" {
			h.Set("Host", c.host)
		}
		conn, res, err := d.Dial(u, h)
		if err != nil {
			if res != nil {
				return nil, fmt.Errorf("WebSocket handshake: %s: %w", res.Status, err)
			}
			return nil, fmt.Errorf("WebSocket handshake: %w", err)
		}
		return conn, nil
	}
	msg := bytes.Repeat([]byte{'w'}, c.size)
	rt := func(conn *websocket.Conn) op {
		return func(ctx context.Context) error {
			dl, _ := ctx.Deadline()
			_ = conn.SetWriteDeadline(dl)
			_ = conn.SetReadDeadline(dl)
			if err := conn.WriteMessage(websocket.BinaryMessage, msg); err != nil {
				return fmt.Errorf("%w: write: %v", errBroken, err)
			}
			typ, got, err := conn.ReadMessage()
			if err != nil {
				return fmt.Errorf("%w: read: %v", errBroken, err)
			}
			if typ != websocket.BinaryMessage || !bytes.Equal(got, msg) {
				return fmt.Errorf("echo: type %d, %d bytes; want the %d-byte binary message back", typ, len(got), len(msg))
			}
			return nil
		}
	}
	probe, err := dial()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	err = rt(probe)(ctx)
	cancel()
	probe.Close()
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	return func() (op, func(), error) {
		conn, err := dial()
		if err != nil {
			return nil, nil, err
		}
		return rt(conn), func() { conn.Close() }, nil
	}, nil
}

// tlsMode: every operation is a new TCP connection, a full TLS handshake
// (the client keeps no session cache, so there is no resumption; X25519
// first, P-256 offered too because a TLS 1.2 server with a P-256 ECDSA
// certificate requires the client to list that curve),
// one GET with Connection: close and its answer. The probe verifies the
// server's certificate for c.host with -ca; the measured handshakes do not
// verify (the client's core should spend its time on the load, and the
// certificate is the probe's), but they still check the version.
func tlsMode(c config) (func() (op, func(), error), string, error) {
	var ver uint16
	switch c.tlsVer {
	case "1.2":
		ver = tls.VersionTLS12
	case "1.3":
		ver = tls.VersionTLS13
	default:
		return nil, "", fmt.Errorf("-tls: want 1.2 or 1.3, got %q", c.tlsVer)
	}
	base := &tls.Config{ServerName: c.host, MinVersion: ver, MaxVersion: ver,
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256}, NextProtos: []string{"http/1.1"}}
	probeCfg := base.Clone()
	if c.ca != "" {
		pem, err := os.ReadFile(c.ca)
		if err != nil {
			return nil, "", err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, "", fmt.Errorf("%s: no PEM certificate", c.ca)
		}
		probeCfg.RootCAs = pool
	} else {
		probeCfg.InsecureSkipVerify = true
	}
	loadCfg := base.Clone()
	loadCfg.InsecureSkipVerify = true
	reqLine := []byte("GET " + c.path + " HTTP/1.1\r\nHost: " + c.host + "\r\nConnection: close\r\n\r\n")
	once := func(ctx context.Context, cfg *tls.Config) (tls.ConnectionState, error) {
		d := tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}
		nc, err := d.DialContext(ctx, "tcp", c.addr)
		if err != nil {
			return tls.ConnectionState{}, err
		}
		defer nc.Close()
		tc := nc.(*tls.Conn)
		st := tc.ConnectionState()
		if st.Version != ver || st.DidResume {
			return st, fmt.Errorf("negotiated %s (resumed %v), want %s without resumption", tls.VersionName(st.Version), st.DidResume, tls.VersionName(ver))
		}
		dl, _ := ctx.Deadline()
		_ = tc.SetDeadline(dl)
		if _, err := tc.Write(reqLine); err != nil {
			return st, err
		}
		res, err := http.ReadResponse(bufio.NewReaderSize(tc, 1024), nil)
		if err != nil {
			return st, err
		}
		_, err = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
		res.Body.Close()
		if err != nil {
			return st, err
		}
		if res.StatusCode != http.StatusOK {
			return st, fmt.Errorf("status %d", res.StatusCode)
		}
		return st, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	st, err := once(ctx, probeCfg)
	cancel()
	if err != nil {
		return nil, "", fmt.Errorf("probe: %w", err)
	}
	detail := fmt.Sprintf("%s, %s, %s, no resumption", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.CurveID)
	return func() (op, func(), error) {
		return func(ctx context.Context) error { _, err := once(ctx, loadCfg); return err }, func() {}, nil
	}, detail, nil
}

// tcpMode: raw TCP to an echo server (a resource behind a resource
// gateway, HAProxy in TCP mode, or the echo itself). In tcp mode each
// worker holds one connection and sends c.size bytes, then reads them
// back; in tcpconn mode each op dials, does one round trip and closes (the
// connection setup the relay adds is what is measured). The probe is one
// round trip on a connection of its own.
func tcpMode(c config) (func() (op, func(), error), error) {
	msg := bytes.Repeat([]byte{'t'}, c.size)
	dial := func(ctx context.Context) (net.Conn, error) {
		d := net.Dialer{}
		return d.DialContext(ctx, "tcp", c.addr)
	}
	rt := func(conn net.Conn, ctx context.Context, buf []byte) error {
		dl, _ := ctx.Deadline()
		_ = conn.SetDeadline(dl)
		if _, err := conn.Write(msg); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		if _, err := io.ReadFull(conn, buf); err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if !bytes.Equal(buf, msg) {
			return fmt.Errorf("echo: got %q, want the %d bytes sent", buf, len(msg))
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	probe, err := dial(ctx)
	if err == nil {
		err = rt(probe, ctx, make([]byte, len(msg)))
		probe.Close()
	}
	cancel()
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	if c.mode == "tcpconn" {
		return func() (op, func(), error) {
			buf := make([]byte, len(msg))
			return func(ctx context.Context) error {
				conn, err := dial(ctx)
				if err != nil {
					return fmt.Errorf("dial: %w", err)
				}
				defer conn.Close()
				// An error here is this op's: the next one dials again.
				return rt(conn, ctx, buf)
			}, func() {}, nil
		}, nil
	}
	return func() (op, func(), error) {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		defer cancel()
		conn, err := dial(ctx)
		if err != nil {
			return nil, nil, err
		}
		buf := make([]byte, len(msg))
		return func(ctx context.Context) error {
			if err := rt(conn, ctx, buf); err != nil {
				// A half-done round trip leaves the stream out of step.
				return fmt.Errorf("%w: %v", errBroken, err)
			}
			return nil
		}, func() { conn.Close() }, nil
	}, nil
}
