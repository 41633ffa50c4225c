package h2

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/trellis-net/trellis/internal/dataplane/h1"
)

func TestGet(t *testing.T) {
	noLeak(t)
	_, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 || r.Proto != "HTTP/2.0" {
			t.Errorf("proto %q", r.Proto)
		}
		ci := h1.ConnInfoOf(r.Context())
		if ci == nil || !ci.Peer.IsValid() || ci.Local == nil || len(ci.PeerHeader) != 1 || ci.PeerHeader[0] != "127.0.0.1" {
			t.Errorf("conn info %+v", ci)
		}
		w.Header().Set("X-Path", r.URL.Path)
		w.Header().Set("X-Query", r.URL.RawQuery)
		w.Header().Set("X-Host", r.Host)
		w.Header().Set("X-Uri", r.RequestURI)
		io.WriteString(w, "hello")
	})
	c := h2cClient(t)
	for i := 0; i < 3; i++ {
		res, err := c.Get("http://" + addr + "/a/b?x=1&y")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(b) != "hello" || res.ProtoMajor != 2 {
			t.Fatalf("got %d %q %s", res.StatusCode, b, res.Proto)
		}
		if res.Header.Get("X-Path") != "/a/b" || res.Header.Get("X-Query") != "x=1&y" || res.Header.Get("X-Host") != addr ||
			res.Header.Get("X-Uri") != "/a/b?x=1&y" || res.ContentLength != 5 || res.Header.Get("Date") == "" {
			t.Fatalf("header %v (length %d)", res.Header, res.ContentLength)
		}
	}
}

func TestPostBodyFlowControl(t *testing.T) {
	noLeak(t)
	// A body far beyond the windows: the server returns credit as the
	// handler reads (else the upload stalls).
	_, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		if rn, ok := h1.BodyBytesRead(r.Body); !ok || rn != n {
			t.Errorf("BodyBytesRead %d %v, want %d", rn, ok, n)
		}
		fmt.Fprintf(w, "%d %d", n, r.ContentLength)
	})
	c := h2cClient(t)
	data := make([]byte, 5<<20+7)
	rand.Read(data)
	res, err := c.Post("http://"+addr+"/up", "application/octet-stream", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if want := fmt.Sprintf("%d %d", len(data), len(data)); string(b) != want {
		t.Fatalf("got %q, want %q", b, want)
	}
}

func TestLargeResponse(t *testing.T) {
	noLeak(t)
	data := make([]byte, 3<<20+11)
	rand.Read(data)
	_, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		for p := data; len(p) > 0; {
			n := min(len(p), 40000)
			if _, err := w.Write(p[:n]); err != nil {
				t.Errorf("write: %v", err)
				return
			}
			p = p[n:]
		}
	})
	c := h2cClient(t)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.Get("http://" + addr + "/big")
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if !bytes.Equal(b, data) {
				t.Errorf("body of %d bytes differs", len(b))
			}
		}()
	}
	wg.Wait()
}

func TestTrailersBothWays(t *testing.T) {
	noLeak(t)
	_, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Trailer["X-Req-Trailer"]; !ok {
			t.Errorf("declared trailer missing: %v", r.Trailer)
		}
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Trailer", "X-Declared")
		w.WriteHeader(201)
		w.(http.Flusher).Flush()
		fmt.Fprintf(w, "got %s", b)
		w.Header().Set("X-Declared", "d1")
		w.Header().Set(http.TrailerPrefix+"X-Late", "late "+r.Trailer.Get("X-Req-Trailer"))
	})
	c := h2cClient(t)
	req, _ := http.NewRequest("POST", "http://"+addr+"/t", io.NopCloser(strings.NewReader("body")))
	req.Trailer = http.Header{"X-Req-Trailer": nil}
	req.ContentLength = -1
	// The client sends trailers set before the body ends.
	req.Trailer.Set("X-Req-Trailer", "rv")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 201 || string(b) != "got body" {
		t.Fatalf("%d %q", res.StatusCode, b)
	}
	if res.Trailer.Get("X-Declared") != "d1" || res.Trailer.Get("X-Late") != "late rv" {
		t.Fatalf("trailers %v", res.Trailer)
	}
	if res.Header.Get("X-Declared") != "" {
		t.Fatalf("trailer sent in the header too: %v", res.Header)
	}
}

func TestFullDuplexEcho(t *testing.T) {
	noLeak(t)
	// The handler answers each chunk as it arrives (gRPC streaming): the
	// client reads an answer before sending the next chunk.
	_, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		buf := make([]byte, 100)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				w.Write(bytes.ToUpper(buf[:n]))
				w.(http.Flusher).Flush()
			}
			if err != nil {
				return
			}
		}
	})
	c := h2cClient(t)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", "http://"+addr+"/echo", pr)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	for _, s := range []string{"one", "two", "three"} {
		if _, err := pw.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
		n, err := res.Body.Read(buf)
		if err != nil || string(buf[:n]) != strings.ToUpper(s) {
			t.Fatalf("read %q %v", buf[:n], err)
		}
	}
	pw.Close()
	if b, err := io.ReadAll(res.Body); err != nil || len(b) != 0 {
		t.Fatalf("end %q %v", b, err)
	}
	res.Body.Close()
}

func TestCancelOnReset(t *testing.T) {
	noLeak(t)
	gone := make(chan struct{})
	started := make(chan struct{})
	_, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-r.Context().Done():
			close(gone)
		case <-time.After(10 * time.Second):
			t.Error("context not cancelled")
		}
	})
	c := h2cClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/", nil)
	go func() { <-started; cancel() }()
	_, _ = c.Do(req)
	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("handler not cancelled")
	}
}

func TestOnGoneSeam(t *testing.T) {
	noLeak(t)
	ran := make(chan struct{})
	_, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		f := func() { close(ran) }
		if hooked, alive := h1.OnGone(r.Context(), &f); !hooked || !alive {
			t.Errorf("OnGone %v %v", hooked, alive)
		}
		<-ran
	})
	rc := dialRaw(t, addr)
	rc.request(1, true)
	time.Sleep(50 * time.Millisecond)
	rc.fr.WriteRSTStream(1, http2.ErrCodeCancel)
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("abort hook did not run on RST_STREAM")
	}
}

func TestPanicResetsStream(t *testing.T) {
	noLeak(t)
	_, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic(http.ErrAbortHandler)
		}
		io.WriteString(w, "ok")
	})
	rc := dialRaw(t, addr)
	rc.rawHeaders(1, true, ":method", "GET", ":scheme", "http", ":path", "/panic", ":authority", "x")
	rc.rst(1, http2.ErrCodeInternal)
	rc.request(3, true)
	if st, body := rc.response(3); st != "200" || body != "ok" {
		t.Fatalf("after a panic: %s %q", st, body)
	}
}

func TestHead(t *testing.T) {
	_, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "42")
		// Counted, not sent (as net/http's HTTP/2 server).
		if n, err := w.Write([]byte("x")); n != 1 || err != nil {
			t.Errorf("write on HEAD: %d %v", n, err)
		}
	})
	c := h2cClient(t)
	res, err := c.Head("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.ContentLength != 42 {
		t.Fatalf("length %d", res.ContentLength)
	}
}

func TestInformational(t *testing.T) {
	_, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(204)
	})
	rc := dialRaw(t, addr)
	rc.request(1, true)
	var statuses []string
	for {
		f := rc.until("headers", func(f http2.Frame) bool { _, ok := f.(*http2.MetaHeadersFrame); return ok }).(*http2.MetaHeadersFrame)
		statuses = append(statuses, f.PseudoValue("status"))
		if f.StreamEnded() {
			break
		}
	}
	if strings.Join(statuses, ",") != "103,204" {
		t.Fatalf("statuses %v", statuses)
	}
}

// TestStress mixes requests with and without bodies, trailers and
// cancellations on shared connections, for the race detector to watch the
// reuse of streams and the shared output buffer.
func TestStress(t *testing.T) {
	noLeak(t)
	_, addr := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			w.Header().Set("Trailer", "X-N")
			n, _ := io.Copy(w, r.Body)
			w.Header().Set("X-N", fmt.Sprint(n))
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(20 * time.Millisecond):
			}
			io.WriteString(w, "slow")
		default:
			w.Header().Set("X-Q", r.URL.RawQuery)
			io.WriteString(w, r.URL.RawQuery)
		}
	})
	c := h2cClient(t)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 150; i++ {
				q := fmt.Sprintf("g=%d&i=%d", g, i)
				switch i % 4 {
				case 0, 1:
					res, err := c.Get("http://" + addr + "/get?" + q)
					if err != nil {
						t.Error(err)
						return
					}
					b, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if string(b) != q || res.Header.Get("X-Q") != q {
						t.Errorf("got %q %q for %q", b, res.Header.Get("X-Q"), q)
					}
				case 2:
					body := strings.Repeat(q, 1+i*37%500)
					res, err := c.Post("http://"+addr+"/echo", "text/plain", strings.NewReader(body))
					if err != nil {
						t.Error(err)
						return
					}
					b, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if string(b) != body || res.Trailer.Get("X-N") != fmt.Sprint(len(body)) {
						t.Errorf("echo of %d bytes: got %d, trailer %q", len(body), len(b), res.Trailer.Get("X-N"))
					}
				case 3:
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%3)*5*time.Millisecond)
					req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/slow", nil)
					if res, err := c.Do(req); err == nil {
						io.Copy(io.Discard, res.Body)
						res.Body.Close()
					}
					cancel()
				}
			}
		}()
	}
	wg.Wait()
}
