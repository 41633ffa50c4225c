package h2

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// FuzzFrames feeds arbitrary bytes after the preface and a SETTINGS frame:
// the server must neither panic nor leave its connection running once the
// client is gone.
func FuzzFrames(f *testing.F) {
	var seed bytes.Buffer
	fr := http2.NewFramer(&seed, nil)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, kv := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", "/x?y"}, {":authority", "a"}, {"content-length", "3"}} {
		enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true})
	fr.WriteData(1, true, []byte("abc"))
	fr.WritePing(false, [8]byte{})
	fr.WriteWindowUpdate(0, 100)
	f.Add(append([]byte(nil), seed.Bytes()...))
	fr.WriteRSTStream(1, http2.ErrCodeCancel)
	fr.WriteGoAway(0, http2.ErrCodeNo, nil)
	f.Add(append([]byte(nil), seed.Bytes()...))
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))

	s := NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Trailer", "X-T")
		io.WriteString(w, "ok")
		w.Header().Set("X-T", "t")
	}), testLog)
	s.ReadHeaderTimeout = 2 * time.Second
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		cc, sc := net.Pipe()
		done := make(chan struct{})
		go func() {
			s.ServeConn(sc)
			close(done)
		}()
		go io.Copy(io.Discard, cc)
		var pre bytes.Buffer
		pre.WriteString(ClientPreface)
		http2.NewFramer(&pre, nil).WriteSettings()
		cc.SetWriteDeadline(time.Now().Add(2 * time.Second))
		cc.Write(pre.Bytes())
		cc.Write(data)
		cc.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("connection still served after the client closed")
		}
	})
}
