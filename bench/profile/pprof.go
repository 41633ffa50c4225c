//go:build trellisbenchprofile

// This file is not a package of its own: bench/harness -profile compiles it
// into cmd/trellis through `go build -overlay` (with the tag
// trellisbenchprofile), so that the benchmark can take CPU profiles of an
// unmodified Trellis. With TRELLIS_BENCH_PPROF=127.0.0.1:PORT in its
// environment, that build serves net/http/pprof's handlers on that
// loopback address only; without it, nothing changes.

package main

import (
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"
)

func init() {
	addr := os.Getenv("TRELLIS_BENCH_PPROF")
	if addr == "" {
		return
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		os.Stderr.WriteString("TRELLIS_BENCH_PPROF must be a loopback host:port\n")
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		os.Stderr.WriteString("TRELLIS_BENCH_PPROF: " + err.Error() + "\n")
		os.Exit(2)
	}
	go func() { _ = (&http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}).Serve(ln) }()
}
