package main

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestOpenLoopAgainstAServer(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Host != "svc.example" {
			w.WriteHeader(404)
			return
		}
		_, _ = io.WriteString(w, "0123456789")
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL + "/x")
	cfg := config{url: u, host: "svc.example", rate: 400, duration: 300 * time.Millisecond, warmup: 100 * time.Millisecond,
		grace: time.Second, timeout: 2 * time.Second, conns: 2, maxConns: 16, expectStatus: 200, expectBodyLen: 10, spin: true}
	res, err := run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Scheduled != 120 || res.OK != 120 || res.Errors != 0 || res.BadStatus != 0 || res.Unsent != 0 {
		t.Errorf("result %+v", res)
	}
	if hits.Load() != 160 { // warm-up included
		t.Errorf("server saw %d requests, want 160", hits.Load())
	}
	if res.Latency.P50 <= 0 || res.Latency.Max < res.Latency.P99 {
		t.Errorf("latency %+v", res.Latency)
	}

	cfg.host = "other.example"
	cfg.duration = 100 * time.Millisecond
	res, err = run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 0 || res.BadStatus != res.Scheduled {
		t.Errorf("a 404 must count as a bad answer: %+v", res)
	}
}

func TestStalledServerShowsInLatency(t *testing.T) {
	// One connection, a server that stalls 200 ms once: requests scheduled
	// during the stall wait, and their latency (from the intended time)
	// shows it, as it would not with a client that waits before sending.
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 30 {
			time.Sleep(200 * time.Millisecond)
		}
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	res, err := run(config{url: u, rate: 200, duration: 500 * time.Millisecond, grace: time.Second, timeout: 2 * time.Second,
		conns: 1, maxConns: 1, expectStatus: 200, expectBodyLen: -1, spin: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != res.Scheduled || res.Errors != 0 {
		t.Fatalf("result %+v", res)
	}
	if res.Latency.Max < 150e3 || res.Latency.P90 < 50e3 {
		t.Errorf("the stall does not show: %+v", res.Latency)
	}
	if res.Late == 0 || res.PoolFull == 0 {
		t.Errorf("no late requests counted: late %d, pool full %d", res.Late, res.PoolFull)
	}
}

func TestReadResponse(t *testing.T) {
	in := "HTTP/1.1 100 Continue\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" +
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: v\r\n\r\n" +
		"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n" +
		"HTTP/1.0 200 OK\r\n\r\nuntil close"
	br := bufio.NewReader(strings.NewReader(in))
	want := []struct {
		status int
		n      int64
		close  bool
	}{{200, 5, false}, {200, 5, false}, {204, 0, true}, {200, 11, true}}
	for i, w := range want {
		st, n, c, err := readResponse(br)
		if err != nil || st != w.status || n != w.n || c != w.close {
			t.Errorf("response %d: %d %d %v %v, want %+v", i, st, n, c, err, w)
		}
	}
	if _, _, _, err := readResponse(bufio.NewReader(strings.NewReader("garbage\r\n"))); err == nil {
		t.Error("no error for a malformed status line")
	}
}

func TestH2C(t *testing.T) {
	protos := new(http.Protocols)
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			w.WriteHeader(505)
		}
	}))
	srv.Config.Protocols = protos
	srv.Start()
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	res, err := run(config{url: u, rate: 300, duration: 200 * time.Millisecond, grace: time.Second, timeout: 2 * time.Second,
		conns: 2, maxConns: 8, h2c: true, expectStatus: 200, expectBodyLen: 0, spin: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Proto != "h2c" || res.OK != res.Scheduled || res.Scheduled == 0 {
		t.Errorf("result %+v", res)
	}
}
