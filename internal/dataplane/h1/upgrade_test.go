package h1

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const upgradeHead = "GET /u HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n"

// wrapped is a response writer wrapper (as an access log's) that Upgrade
// sees through.
type wrapped struct{ http.ResponseWriter }

func (w wrapped) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestUpgradeServer: the 101 head carries the handler's fields, the bytes
// the client sent after the request head are the upgraded connection's
// first (never a second request), and the connection closes when the
// handler returns.
func TestUpgradeServer(t *testing.T) {
	for _, wrap := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "wrapped"}[wrap], func(t *testing.T) {
			_, addr := startH1(t, func(w http.ResponseWriter, r *http.Request) {
				if wrap {
					w = wrapped{w}
				}
				if !CanUpgrade(w) {
					http.Error(w, "no", http.StatusInternalServerError)
					return
				}
				w.Header()["Connection"] = []string{"Upgrade"}
				w.Header()["Upgrade"] = []string{"test"}
				w.Header()["Content-Length"] = []string{"5"} // not written on a 101
				c, err := Upgrade(w)
				if err != nil {
					t.Error(err)
					return
				}
				if CanUpgrade(w) {
					t.Error("CanUpgrade after Upgrade")
				}
				if _, err := Upgrade(w); !errors.Is(err, ErrNotUpgradable) {
					t.Errorf("second Upgrade: %v", err)
				}
				// Echo in upper case until the client half-closes.
				b, _ := io.ReadAll(c)
				_, _ = c.Write([]byte(strings.ToUpper(string(b))))
			})
			rc := dialRaw(t, addr)
			rc.send(upgradeHead + "GET /second HTTP/1.1\r\nHost: x\r\n\r\n")
			res, err := http.ReadResponse(rc.br, &http.Request{Method: "GET"})
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusSwitchingProtocols || res.Header.Get("Upgrade") != "test" ||
				res.Header.Get("Connection") != "Upgrade" || res.Header.Get("Content-Length") != "" {
				t.Fatalf("%d %v", res.StatusCode, res.Header)
			}
			if err := rc.c.(*net.TCPConn).CloseWrite(); err != nil {
				t.Fatal(err)
			}
			rest, err := io.ReadAll(rc.br)
			if err != nil {
				t.Fatal(err)
			}
			if string(rest) != "GET /SECOND HTTP/1.1\r\nHOST: X\r\n\r\n" {
				t.Fatalf("after the 101: %q", rest)
			}
		})
	}
}

// TestUpgradeRefused: what cannot be upgraded says so.
func TestUpgradeRefused(t *testing.T) {
	for name, req := range map[string]string{
		"HTTP/1.0":  "GET /u HTTP/1.0\r\nHost: x\r\n\r\n",
		"with body": "POST /u HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi",
	} {
		t.Run(name, func(t *testing.T) {
			_, addr := startH1(t, func(w http.ResponseWriter, r *http.Request) {
				if CanUpgrade(w) {
					t.Error("CanUpgrade")
				}
				if _, err := Upgrade(w); !errors.Is(err, ErrNotUpgradable) {
					t.Errorf("Upgrade: %v", err)
				}
				w.WriteHeader(http.StatusTeapot)
			})
			rc := dialRaw(t, addr)
			rc.send(req)
			if res, _ := rc.response("GET"); res.StatusCode != http.StatusTeapot {
				t.Fatalf("status %d", res.StatusCode)
			}
		})
	}
	t.Run("begun", func(t *testing.T) {
		_, addr := startH1(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			if _, err := Upgrade(w); !errors.Is(err, ErrNotUpgradable) {
				t.Errorf("Upgrade: %v", err)
			}
		})
		rc := dialRaw(t, addr)
		rc.send(upgradeHead)
		if res, _ := rc.response("GET"); res.StatusCode != http.StatusOK {
			t.Fatalf("status %d", res.StatusCode)
		}
	})
	t.Run("not this server's", func(t *testing.T) {
		if CanUpgrade(wrapped{nil}) {
			t.Fatal("CanUpgrade")
		}
	})
}

// TestUpgradeShutdownClose: Shutdown waits for an upgraded connection like
// for a request in flight; Close ends it.
func TestUpgradeShutdownClose(t *testing.T) {
	ended := make(chan error, 1)
	s, addr := startH1(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Connection"] = []string{"Upgrade"}
		c, err := Upgrade(w)
		if err != nil {
			ended <- err
			return
		}
		_, err = io.ReadAll(c) // until the server closes it
		ended <- err
	})
	rc := dialRaw(t, addr)
	rc.send(upgradeHead)
	if res, err := http.ReadResponse(rc.br, &http.Request{Method: "GET"}); err != nil || res.StatusCode != 101 {
		t.Fatalf("%v %v", res, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want it to wait for the session", err)
	}
	s.Close()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the upgraded connection")
	}
	if !rc.closed() {
		t.Fatal("the client's connection stayed open")
	}
}

// TestUpgradeClient: a 101 to an upgrade request hands over the
// connection with the bytes the target sent after the head; without
// ExpectUpgrade it is ErrSwitchingProtocols.
func TestUpgradeClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\nearly")
				b, _ := io.ReadAll(br)
				c.Write(b)
			}()
		}
	}()
	u := NewClient(time.Second)
	pool := u.Pool(nil, netip.MustParseAddrPort(ln.Addr().String()))
	for _, expect := range []bool{false, true} {
		t.Run(map[bool]string{false: "unexpected", true: "expected"}[expect], func(t *testing.T) {
			c, err := u.Dial(context.Background(), pool, time.Now().Add(5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if expect {
				c.ExpectUpgrade()
			}
			r, _ := http.NewRequest("GET", "http://x/u", nil)
			_, err = c.RoundTrip(r, "", []ExtraField{{Name: "Connection", Values: []string{"Upgrade"}}, {Name: "Upgrade", Values: []string{"test"}}},
				time.Now().Add(5*time.Second), 0)
			if !expect {
				if !errors.Is(err, ErrSwitchingProtocols) {
					t.Fatalf("RoundTrip: %v", err)
				}
				c.Abort()
				return
			}
			if err != nil || c.Response().StatusCode != 101 {
				t.Fatalf("RoundTrip: %v", err)
			}
			up, err := c.Upgraded()
			if err != nil {
				t.Fatal(err)
			}
			defer up.Close()
			up.Write([]byte(" late"))
			if err := up.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(up)
			if err != nil || string(b) != "early late" {
				t.Fatalf("%q %v", b, err)
			}
			if pool.Idle() != 0 {
				t.Fatal("an upgraded connection went back to the pool")
			}
		})
	}
}

// TestUpgradeNotTaken: a request asking to upgrade that the handler
// answers otherwise is the connection's last, so that what the client
// sent after it is never read as a request.
func TestUpgradeNotTaken(t *testing.T) {
	var n atomic.Int64
	_, addr := startH1(t, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusForbidden)
	})
	rc := dialRaw(t, addr)
	rc.send(upgradeHead + "GET /second HTTP/1.1\r\nHost: x\r\n\r\n")
	res, _ := rc.response("GET")
	if res.StatusCode != http.StatusForbidden || !res.Close {
		t.Fatalf("%d close=%v", res.StatusCode, res.Close)
	}
	if !rc.closed() || n.Load() != 1 {
		t.Fatalf("closed=%v, %d requests served", rc.closed(), n.Load())
	}
	// Upgrade without "Connection: upgrade" is no upgrade request.
	rc = dialRaw(t, addr)
	rc.send("GET /u HTTP/1.1\r\nHost: x\r\nUpgrade: test\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\n\r\n")
	for i := 0; i < 2; i++ {
		if res, _ := rc.response("GET"); res.StatusCode != http.StatusForbidden {
			t.Fatalf("response %d: %d", i, res.StatusCode)
		}
	}
}
