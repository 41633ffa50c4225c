package h2

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/trellis-net/trellis/internal/dataplane/h1"
)

// ClientPreface opens every HTTP/2 connection (RFC 9113 §3.4).
const ClientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// conn is one client connection. The reader goroutine (serve) owns the
// fields marked "reader"; mu guards the rest, shared with the handlers and
// the writer goroutine.
type conn struct {
	srv    *Server
	nc     net.Conn
	remote string
	info   h1.ConnInfo

	// reader
	rd       *readTracker
	br       *bufio.Reader
	fr       *http2.Framer
	canon    map[string]string // lower-case → canonical header names seen on this connection
	gotFirst bool              // the first request's header arrived
	// flood accounting (reader)
	floodSec      int64
	controlFrames int
	resets        int

	mu   sync.Mutex
	cond sync.Cond // on mu: windows grew, the output drained, a stream or the connection ended
	// streams are the open and half-closed streams by ID; a stream leaves
	// when it is closed (both ends done, or reset).
	streams   map[uint32]*stream
	maxID     uint32 // the highest stream ID the client opened (processed)
	handlers  int    // handlers running
	goingAway bool   // GOAWAY sent: no new stream
	closing   bool   // the connection is being torn down
	readDone  bool   // the reader has returned

	// the write side, under mu
	out, spare  []byte // frames waiting for the writer; the buffer being written
	writing     bool   // the writer has the spare buffer out
	wakeQueued  bool
	wake        chan struct{}
	writerDone  chan struct{}
	enc         *hpack.Encoder
	hb          headerBuf
	lower       map[string]string // canonical → lower-case header names (beyond the common ones)
	sendWindow  int32             // connection send window (the client's)
	initWindow  int32             // the client's SETTINGS_INITIAL_WINDOW_SIZE
	maxFrame    int               // the client's SETTINGS_MAX_FRAME_SIZE
	recvUnacked int32             // received DATA consumed but not yet returned to the client
	recvWindow  int32             // what the client may still send on the connection
	writeErr    error
	wdeadline   time.Time
	ourResets   [32]uint32 // the streams we reset last (a ring)
	ourResetsI  int
	deadlineSet bool // a read deadline (the header or idle timeout) is set
}

// readTracker remembers the error of the last read, so that a framing
// error is told apart from the connection failing.
type readTracker struct {
	prefix []byte
	r      io.Reader
	err    error
}

func (t *readTracker) Read(p []byte) (int, error) {
	if len(t.prefix) > 0 {
		n := copy(p, t.prefix)
		t.prefix = t.prefix[n:]
		return n, nil
	}
	n, err := t.r.Read(p)
	if err != nil {
		t.err = err
	}
	return n, err
}

type headerBuf struct{ b []byte }

func (h *headerBuf) Write(p []byte) (int, error) {
	h.b = append(h.b, p...)
	return len(p), nil
}

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}

func (c *conn) init(rest []byte) {
	c.rd = &readTracker{prefix: rest, r: c.nc}
	c.br = readerPool.Get().(*bufio.Reader)
	c.br.Reset(c.rd)
	c.fr = http2.NewFramer(nil, c.br)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.MaxHeaderListSize = uint32(c.srv.MaxHeaderBytes)
	c.fr.SetReuseFrames()
	c.fr.SetMaxReadFrameSize(16384) // what we advertise: the default (§4.2)
	c.cond.L = &c.mu
	c.streams = map[uint32]*stream{}
	c.wake = make(chan struct{}, 1)
	c.writerDone = make(chan struct{})
	c.enc = hpack.NewEncoder(&c.hb)
	c.sendWindow = 65535
	c.initWindow = 65535
	c.maxFrame = 16384
}

// serve runs the connection: the preface and SETTINGS exchange, then the
// frames until the connection ends.
func (c *conn) serve() {
	defer c.srv.remove(c)
	go c.writer()
	code, err := c.readLoop()
	c.mu.Lock()
	c.readDone = true
	if code >= 0 && !c.closing {
		c.goAwayLocked(http2.ErrCode(code))
	}
	c.mu.Unlock()
	if err != nil && !isClosedConn(err) {
		c.srv.log.Debug("http2 connection ended", "remote", c.remote, "err", err)
	}
	if code >= 0 {
		// Let the GOAWAY (and the answers of streams done) go out before
		// the close, but not for long (RFC 9113 §5.4.1).
		c.mu.Lock()
		for !c.closing && c.handlers > 0 && code == int(http2.ErrCodeNo) {
			c.cond.Wait() // graceful: in-flight streams finish first
		}
		c.mu.Unlock()
		c.flushAndWait(time.Second)
		c.linger()
	}
	c.closeNow()
	c.br.Reset(nil)
	readerPool.Put(c.br)
	// Wait for the handlers still running: Shutdown counts the connection
	// until they are done.
	c.mu.Lock()
	for c.handlers > 0 {
		c.cond.Wait()
	}
	c.mu.Unlock()
}

func isClosedConn(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.As(err, &ne)
}

// readLoop reads and handles frames until the connection ends. It returns
// the GOAWAY code to send (-1: none, the connection is gone) and why.
func (c *conn) readLoop() (int, error) {
	c.deadlineSet = true // before any other goroutine runs
	_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.ReadHeaderTimeout))
	var preface [len(ClientPreface)]byte
	if _, err := io.ReadFull(c.br, preface[:]); err != nil {
		return -1, err
	}
	if string(preface[:]) != ClientPreface {
		return -1, errors.New("bad client preface")
	}
	c.mu.Lock()
	// Our SETTINGS (RFC 9113 §3.4: the first frame of the server), and the
	// connection window raised beyond the default 65535 (§6.9.2).
	c.out = appendSettings(c.out,
		http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: MaxConcurrentStreams},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: streamWindow},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: uint32(c.srv.MaxHeaderBytes)},
	)
	c.out = appendWindowUpdate(c.out, 0, connWindow-65535)
	c.recvWindow = connWindow
	c.wakeLocked()
	c.mu.Unlock()

	first := true
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			if c.rd.err == nil && errors.As(err, &se) {
				// A frame refused on its own: reset its stream, read on.
				// A refused HEADERS opening a stream uses its ID (§5.1.1).
				c.mu.Lock()
				if se.StreamID > c.maxID && se.StreamID%2 == 1 {
					c.maxID = se.StreamID
				}
				st := c.streams[se.StreamID]
				if st != nil {
					c.resetLocked(st, se.Code)
				} else {
					c.out = appendRST(c.out, se.StreamID, se.Code)
					c.wakeLocked()
				}
				c.mu.Unlock()
				if st != nil {
					st.cancel()
				}
				continue
			}
			return c.readError(err)
		}
		if first {
			// The client's preface ends with a SETTINGS frame (§3.4).
			if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
				return int(http2.ErrCodeProtocol), errors.New("client preface without SETTINGS")
			}
			first = false
		}
		var cerr error
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			cerr = c.onHeaders(f)
		case *http2.DataFrame:
			cerr = c.onData(f)
		case *http2.SettingsFrame:
			cerr = c.onSettings(f)
		case *http2.WindowUpdateFrame:
			cerr = c.onWindowUpdate(f)
		case *http2.RSTStreamFrame:
			cerr = c.onReset(f)
		case *http2.PingFrame:
			cerr = c.onPing(f)
		case *http2.PriorityFrame:
			cerr = c.onPriority(f)
		case *http2.GoAwayFrame:
			// The client opens no more streams; those open finish.
		case *http2.PushPromiseFrame:
			cerr = http2.ConnectionError(http2.ErrCodeProtocol) // a client cannot push (§8.4)
		default:
			// Unknown frame types are ignored (§5.5).
		}
		if cerr != nil {
			var ce http2.ConnectionError
			if errors.As(cerr, &ce) {
				return int(ce), cerr
			}
			return -1, cerr
		}
		if c.isClosing() {
			return -1, nil
		}
	}
}

// readError says what a failed ReadFrame means for the connection: the
// GOAWAY code to send (-1: none, it is gone) and why.
func (c *conn) readError(err error) (int, error) {
	if c.rd.err != nil {
		if errors.Is(c.rd.err, os.ErrDeadlineExceeded) {
			// The idle timeout, or no request in time: say so politely.
			return int(http2.ErrCodeNo), c.rd.err
		}
		return -1, c.rd.err
	}
	var ce http2.ConnectionError
	if errors.As(err, &ce) {
		return int(ce), err
	}
	if errors.Is(err, http2.ErrFrameTooLarge) {
		return int(http2.ErrCodeFrameSize), err
	}
	return int(http2.ErrCodeProtocol), err
}

func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

// flood counts a frame that asks work of the server without carrying a
// request; past maxControlPerSecond in a second the connection ends with
// ENHANCE_YOUR_CALM.
func (c *conn) flood() error {
	now := time.Now().Unix()
	if now != c.floodSec {
		c.floodSec, c.controlFrames, c.resets = now, 0, 0
	}
	c.controlFrames++
	if c.controlFrames > maxControlPerSecond {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	return nil
}

func (c *conn) onSettings(f *http2.SettingsFrame) error {
	if err := c.flood(); err != nil {
		return err
	}
	if f.IsAck() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err := f.ForeachSetting(func(s http2.Setting) error {
		if err := s.Valid(); err != nil {
			return err
		}
		switch s.ID {
		case http2.SettingHeaderTableSize:
			// Our encoder's table follows the client's decoder's size
			// (RFC 7541 §4.2), up to the default 4096.
			c.enc.SetMaxDynamicTableSize(min(s.Val, 4096))
		case http2.SettingInitialWindowSize:
			// §6.9.2: the change applies to every stream's window, which
			// must not overflow.
			delta := int32(s.Val) - c.initWindow
			for _, st := range c.streams {
				w := int64(st.sendWindow) + int64(delta)
				if w > 1<<31-1 {
					return http2.ConnectionError(http2.ErrCodeFlowControl)
				}
			}
			for _, st := range c.streams {
				st.sendWindow += delta
			}
			c.initWindow = int32(s.Val)
		case http2.SettingMaxFrameSize:
			c.maxFrame = int(s.Val)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := c.controlRoomLocked(); err != nil {
		return err
	}
	c.out = appendFrameHeader(c.out, 0, http2.FrameSettings, http2.FlagSettingsAck, 0)
	c.wakeLocked()
	c.cond.Broadcast()
	return nil
}

func (c *conn) onPing(f *http2.PingFrame) error {
	if err := c.flood(); err != nil {
		return err
	}
	if f.IsAck() {
		return nil
	}
	return c.queueControl(func(b []byte) []byte {
		b = appendFrameHeader(b, 8, http2.FramePing, http2.FlagPingAck, 0)
		return append(b, f.Data[:]...)
	})
}

func (c *conn) onPriority(f *http2.PriorityFrame) error {
	// Priorities are not acted on (RFC 9113 §5.3.2 lets a server ignore
	// them); a stream depending on itself is a stream error (§5.3.1).
	if f.StreamDep == f.StreamID {
		return c.queueControl(func(b []byte) []byte { return appendRST(b, f.StreamID, http2.ErrCodeProtocol) })
	}
	return c.flood()
}

// queueControl appends a control frame for the writer, unless the client
// has let so much pile up unread that it does not read at all.
func (c *conn) queueControl(app func([]byte) []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.controlRoomLocked(); err != nil {
		return err
	}
	c.out = app(c.out)
	c.wakeLocked()
	return nil
}

func (c *conn) controlRoomLocked() error {
	if len(c.out) > c.srv.maxControl {
		return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
	}
	return nil
}

func (c *conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.StreamID == 0 {
		w := int64(c.sendWindow) + int64(f.Increment)
		if w > 1<<31-1 {
			return http2.ConnectionError(http2.ErrCodeFlowControl) // §6.9.1
		}
		c.sendWindow = int32(w)
		c.cond.Broadcast()
		return nil
	}
	if f.StreamID > c.maxID {
		if f.StreamID%2 == 1 {
			return http2.ConnectionError(http2.ErrCodeProtocol) // idle stream (§5.1)
		}
		return nil
	}
	st := c.streams[f.StreamID]
	if st == nil {
		c.mu.Unlock()
		err := c.flood() // closed: ignored (§5.1), but counted
		c.mu.Lock()
		return err
	}
	w := int64(st.sendWindow) + int64(f.Increment)
	if w > 1<<31-1 {
		// §6.9.1: a stream error.
		c.resetLocked(st, http2.ErrCodeFlowControl)
		return nil
	}
	st.sendWindow = int32(w)
	c.cond.Broadcast()
	return nil
}

func (c *conn) onReset(f *http2.RSTStreamFrame) error {
	c.mu.Lock()
	if f.StreamID > c.maxID {
		c.mu.Unlock()
		return http2.ConnectionError(http2.ErrCodeProtocol) // idle stream (§6.4)
	}
	st := c.streams[f.StreamID]
	if st == nil {
		c.mu.Unlock()
		return c.flood()
	}
	running := !st.handlerDone
	st.reset = true
	c.closeStreamLocked(st)
	st.cancel()
	c.mu.Unlock()
	if running {
		// Rapid reset (CVE-2023-44487): a client resetting streams whose
		// handlers still run costs the server work for nothing.
		now := time.Now().Unix()
		if now != c.floodSec {
			c.floodSec, c.controlFrames, c.resets = now, 0, 0
		}
		c.resets++
		if c.resets > maxResetsPerSecond {
			return http2.ConnectionError(http2.ErrCodeEnhanceYourCalm)
		}
	}
	return nil
}

func (c *conn) onData(f *http2.DataFrame) error {
	id := f.StreamID
	n := int32(f.Length) // flow control counts the padding too (§6.9)
	data := f.Data()
	c.mu.Lock()
	// The connection window first: every DATA frame counts, whatever its
	// stream's state (§6.9).
	if id > c.maxID {
		c.mu.Unlock()
		return http2.ConnectionError(http2.ErrCodeProtocol) // idle stream (§5.1)
	}
	// Every DATA frame counts against the connection's window, whatever
	// its stream's state (§6.9).
	if n > c.recvWindow {
		c.mu.Unlock()
		return http2.ConnectionError(http2.ErrCodeFlowControl)
	}
	c.recvWindow -= n
	st := c.streams[id]
	if st == nil || st.remoteDone {
		// Closed (or half-closed remote): STREAM_CLOSED (§5.1); the bytes
		// go back to the connection window at once. Frames still in
		// flight on a stream we reset are ignored (§5.4.2).
		c.returnConnLocked(n)
		if st == nil && c.resetByUs(id) {
			c.mu.Unlock()
			return c.flood()
		}
		if st != nil {
			c.resetLocked(st, http2.ErrCodeStreamClosed)
		} else {
			c.out = appendRST(c.out, id, http2.ErrCodeStreamClosed)
			c.wakeLocked()
		}
		c.mu.Unlock()
		return c.flood()
	}
	if n > st.recvWindow {
		c.returnConnLocked(n)
		c.resetLocked(st, http2.ErrCodeFlowControl) // §6.9.1
		c.mu.Unlock()
		return nil
	}
	st.recvWindow -= n
	end := f.StreamEnded()
	if end {
		st.remoteDone = true
	}
	if len(data) == 0 && !end {
		c.returnConnLocked(n)
		c.mu.Unlock()
		return c.flood() // empty DATA floods (CVE-2019-9518)
	}
	c.mu.Unlock()

	b := st.body
	if b == nil {
		// A body on a request whose HEADERS ended the stream cannot be;
		// a body the handler no longer reads (nil after it returned).
		c.mu.Lock()
		c.returnConnLocked(n)
		c.mu.Unlock()
		return nil
	}
	if pad := n - int32(len(data)); pad > 0 {
		b.credit(pad) // padding is consumed at once
	}
	if err := b.write(data, end); err != nil {
		// Content-Length mismatch: malformed (§8.1.1).
		c.mu.Lock()
		c.resetLocked(st, http2.ErrCodeProtocol)
		c.mu.Unlock()
	}
	if end {
		c.mu.Lock()
		if st.handlerDone && st.remoteDone {
			c.closeStreamLocked(st)
		}
		c.mu.Unlock()
	}
	return nil
}

// returnConnLocked gives n received bytes nobody will read back to the
// connection window.
func (c *conn) returnConnLocked(n int32) {
	if n <= 0 {
		return
	}
	c.recvUnacked += n
	if c.recvUnacked >= connWindow/4 {
		c.out = appendWindowUpdate(c.out, 0, uint32(c.recvUnacked))
		c.recvWindow += c.recvUnacked
		c.recvUnacked = 0
		c.wakeLocked()
	}
}

// startShutdown tells the client no new stream will be served (GOAWAY,
// NO_ERROR) and closes the connection once its streams are done.
func (c *conn) startShutdown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.goingAway || c.closing {
		if c.handlers == 0 && len(c.streams) == 0 && !c.closing {
			c.closing = true
			go c.finishShutdown()
		}
		return
	}
	c.goAwayLocked(http2.ErrCodeNo)
	if c.handlers == 0 && len(c.streams) == 0 {
		c.closing = true
		go c.finishShutdown()
	}
}

// finishShutdown flushes the GOAWAY and closes the connection.
func (c *conn) finishShutdown() {
	c.flushAndWait(time.Second)
	c.closeNow()
}

// goAwayLocked queues a GOAWAY naming the last stream processed (§6.8).
func (c *conn) goAwayLocked(code http2.ErrCode) {
	if c.goingAway && code == http2.ErrCodeNo {
		return
	}
	c.goingAway = true
	c.out = appendFrameHeader(c.out, 8, http2.FrameGoAway, 0, 0)
	c.out = append(c.out, byte(c.maxID>>24), byte(c.maxID>>16), byte(c.maxID>>8), byte(c.maxID),
		byte(code>>24), byte(code>>16), byte(code>>8), byte(code))
	c.wakeLocked()
}

// closeNow closes the connection and cancels its streams.
func (c *conn) closeNow() {
	_ = c.nc.Close()
	c.mu.Lock()
	c.closing = true
	// Under mu: a stream the handler ends meanwhile is recycled only once
	// out of c.streams.
	for _, st := range c.streams {
		st.cancel()
	}
	c.cond.Broadcast()
	c.wakeLocked()
	c.mu.Unlock()
}

// resetByUs reports whether stream id is one of the last we reset.
func (c *conn) resetByUs(id uint32) bool {
	for _, x := range c.ourResets {
		if x == id {
			return true
		}
	}
	return false
}

// linger half-closes the connection after a GOAWAY and reads what the
// client still sends, for a second at most: closing with unread bytes
// would reset the connection, and the client could lose the GOAWAY
// before reading it.
func (c *conn) linger() {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 4096)
	for {
		if _, err := c.nc.Read(buf); err != nil {
			return
		}
	}
}
