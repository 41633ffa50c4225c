package h2

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// benchClient speaks just enough HTTP/2 to send the same GET again and
// again and read its answers, allocating nothing per request, so that what
// a measurement counts is the server's.
type benchClient struct {
	nc    net.Conn
	br    *bufio.Reader
	req   []byte // a HEADERS frame; its stream ID patched per request
	id    uint32
	frame []byte
}

func newBenchClient(tb testing.TB, addr string) *benchClient {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	enc.SetMaxDynamicTableSizeLimit(0) // the same block each time
	for _, kv := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", "/bench?x=1"},
		{":authority", "service.example"}, {"user-agent", "bench"}, {"accept", "*/*"}} {
		enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	var fb bytes.Buffer
	http2.NewFramer(&fb, nil).WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndStream: true, EndHeaders: true})
	c := &benchClient{nc: nc, br: bufio.NewReaderSize(nc, 64<<10), req: fb.Bytes(), id: 1, frame: make([]byte, 0, 1<<16)}
	var pre bytes.Buffer
	pre.WriteString(ClientPreface)
	pf := http2.NewFramer(&pre, nil)
	pf.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30})
	pf.WriteWindowUpdate(0, 1<<30)
	pf.WriteSettingsAck()
	if _, err := nc.Write(pre.Bytes()); err != nil {
		tb.Fatal(err)
	}
	return c
}

// send writes n requests at once (as h2load -m does).
func (c *benchClient) send(tb testing.TB, n int) {
	buf := c.frame[:0]
	for i := 0; i < n; i++ {
		start := len(buf)
		buf = append(buf, c.req...)
		binary.BigEndian.PutUint32(buf[start+5:], c.id)
		c.id += 2
	}
	c.frame = buf
	if _, err := c.nc.Write(buf); err != nil {
		tb.Fatal(err)
	}
}

// await reads frames until n streams have ended.
func (c *benchClient) await(tb testing.TB, n int) {
	var hdr [9]byte
	for n > 0 {
		if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
			tb.Fatal(err)
		}
		length := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
		if _, err := c.br.Discard(length); err != nil {
			tb.Fatal(err)
		}
		typ, flags := http2.FrameType(hdr[3]), http2.Flags(hdr[4])
		switch typ {
		case http2.FrameHeaders, http2.FrameData:
			if flags&http2.FlagDataEndStream != 0 {
				n--
			}
		case http2.FrameRSTStream, http2.FrameGoAway:
			tb.Fatalf("frame %v", typ)
		}
	}
}

var helloBody = []byte("hello, world")

func helloHandler(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Content-Type"] = textPlain
	w.Write(helloBody)
}

var textPlain = []string{"text/plain"}

// BenchmarkServer measures a request through the server, ten at a time on
// one connection (h2load -m10), the client allocation-free.
func BenchmarkServer(b *testing.B) {
	_, addr := newServer(b, helloHandler)
	c := newBenchClient(b, addr)
	c.send(b, 1)
	c.await(b, 1)
	b.ReportAllocs()
	b.ResetTimer()
	const batch = 10
	for i := 0; i < b.N; i += batch {
		c.send(b, batch)
		c.await(b, batch)
	}
}

// serverAllocBudget is the allocations per request the server may make for
// a GET with a few header fields (all literals: the client keeps no HPACK
// table) answered by a trivial handler. Measured 18 (of which x/net's
// framer makes 9: the MetaHeadersFrame, its HeadersFrame, the Fields slice
// growing, the decoded strings; the request's header map and values 2; the
// response none). A rise fails the test: find what allocates.
const serverAllocBudget = 20

func TestAllocsPerRequest(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation count (not under the race detector)")
	}
	_, addr := newServer(t, helloHandler)
	c := newBenchClient(t, addr)
	c.send(t, 10)
	c.await(t, 10)
	const batch = 10
	allocs := testing.AllocsPerRun(50, func() {
		c.send(t, batch)
		c.await(t, batch)
	}) / batch
	t.Logf("%.1f allocations per request", allocs)
	if allocs > serverAllocBudget {
		t.Fatalf("%.1f allocations per request, budget %d", allocs, serverAllocBudget)
	}
}

// BenchmarkNetHTTP is BenchmarkServer against net/http's HTTP/2 server
// (cleartext), for the ratio.
func BenchmarkNetHTTP(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	s := &http.Server{Handler: http.HandlerFunc(helloHandler), Protocols: p}
	go s.Serve(ln)
	defer s.Close()
	c := newBenchClient(b, ln.Addr().String())
	c.send(b, 1)
	c.await(b, 1)
	b.ReportAllocs()
	b.ResetTimer()
	const batch = 10
	for i := 0; i < b.N; i += batch {
		c.send(b, batch)
		c.await(b, batch)
	}
}
