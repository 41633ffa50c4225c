// Command loadgen is an open-loop HTTP load generator: it sends requests at a
// fixed rate on a schedule that does not wait for responses, and measures
// each request's latency from the time it was meant to be sent, so a stall
// of the server shows up in the latency of every request that the stall
// delayed instead of being hidden by a client that waits (coordinated
// omission).
//
// Requests go out over a pool of keep-alive connections (HTTP/1.1, one
// request in flight per connection; or cleartext HTTP/2 with prior
// knowledge, one request in flight per pool slot). When a request's time
// comes and no connection is free, the pool grows up to -max-conns; past
// that the request waits for a connection and its wait counts in its
// latency. Requests whose write started more than 1 ms after their intended
// time are counted as late; requests still waiting when the run's grace
// period ends are counted as unsent.
//
// The schedule runs on its own OS thread sleeping with nanosleep and a timer
// slack of 1 ns (the Go runtime's timers wake about a millisecond late when
// the process is otherwise idle). The run is bounded: warm-up + duration +
// grace + one request timeout.
//
// The result is one JSON object on standard output.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trellis-net/trellis/bench/internal/hist"
	"github.com/trellis-net/trellis/bench/internal/sched"
)

// Quantiles are latency figures in microseconds.
type Quantiles = hist.Quantiles

// Result is what a run prints.
type Result struct {
	URL       string  `json:"url"`
	Host      string  `json:"host,omitempty"`
	Proto     string  `json:"proto"`
	Rate      float64 `json:"rate"`
	DurationS float64 `json:"durationSeconds"`
	WarmupS   float64 `json:"warmupSeconds"`
	// Counts cover the measured window (after the warm-up) only.
	Scheduled    uint64    `json:"scheduled"`
	OK           uint64    `json:"ok"`
	Errors       uint64    `json:"errors"`    // transport errors: connect, reset, timeout
	BadStatus    uint64    `json:"badStatus"` // answered, but not with the expected status and body
	Unsent       uint64    `json:"unsent"`    // still waiting for a connection when the grace period ended
	Late         uint64    `json:"late"`      // written more than 1 ms after the intended time
	PoolFull     uint64    `json:"poolFull"`  // found every connection busy with the pool at -max-conns
	Conns        int64     `json:"conns"`     // connections (HTTP/1.1) or pool slots (h2c) opened
	AchievedRate float64   `json:"achievedRate"`
	Latency      Quantiles `json:"latencyMicros"`
	SendLag      Quantiles `json:"sendLagMicros"`
	ErrorSamples []string  `json:"errorSamples,omitempty"`
}

type config struct {
	url           *url.URL
	host          string
	rate          float64
	duration      time.Duration
	warmup        time.Duration
	grace         time.Duration
	timeout       time.Duration
	conns         int
	maxConns      int
	h2c           bool
	expectStatus  int
	expectBodyLen int64
	spin          bool
}

func main() {
	var (
		rawURL   = flag.String("url", "", "target URL, http://HOST:PORT/PATH (required)")
		host     = flag.String("host", "", "Host header (default: the URL's host)")
		rate     = flag.Float64("rate", 1000, "requests per second")
		duration = flag.Duration("duration", 10*time.Second, "measured duration")
		warmup   = flag.Duration("warmup", time.Second, "warm-up at the same rate before measuring (not recorded)")
		grace    = flag.Duration("grace", 2*time.Second, "after the schedule ends, how long queued requests may still be sent")
		timeout  = flag.Duration("timeout", 5*time.Second, "per-request timeout")
		conns    = flag.Int("conns", 8, "connections opened before the run")
		maxConns = flag.Int("max-conns", 512, "most connections (HTTP/1.1) or in-flight requests (h2c)")
		h2c      = flag.Bool("h2c", false, "cleartext HTTP/2 with prior knowledge instead of HTTP/1.1")
		status   = flag.Int("expect-status", 200, "status that counts as success")
		bodyLen  = flag.Int64("expect-body-len", -1, "body length that counts as success (-1: any)")
		spin     = flag.Bool("spin", true, "spin on the clock for the last few microseconds before each send time instead of trusting the kernel's wake-up")
		procs    = flag.Int("gomaxprocs", 2, "GOMAXPROCS (the scheduler thread sleeps in a system call, so 2 even on one core)")
	)
	flag.Parse()
	u, err := url.Parse(*rawURL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		fatalf("-url: want http://HOST:PORT/PATH, got %q", *rawURL)
	}
	if *rate <= 0 || *rate > 1e6 || *duration <= 0 || *warmup < 0 || *timeout <= 0 || *grace < 0 {
		fatalf("-rate must be in (0, 1e6], -duration and -timeout positive, -warmup and -grace not negative")
	}
	if *conns < 1 || *maxConns < *conns {
		fatalf("want 1 <= -conns <= -max-conns")
	}
	if float64(*warmup+*duration)/float64(time.Second)**rate > 20e6 {
		fatalf("more than 20 million requests: shorten -duration or lower -rate")
	}
	runtime.GOMAXPROCS(*procs)
	cfg := config{url: u, host: *host, rate: *rate, duration: *duration, warmup: *warmup, grace: *grace,
		timeout: *timeout, conns: *conns, maxConns: *maxConns, h2c: *h2c, expectStatus: *status, expectBodyLen: *bodyLen, spin: *spin}
	res, err := run(cfg)
	if err != nil {
		fatalf("%v", err)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(res)
	fmt.Fprintf(os.Stderr, "loadgen: %s %.0f req/s: ok %d, errors %d, bad status %d, unsent %d, late %d; p50 %.0fµs p99 %.0fµs max %.0fµs\n",
		res.Proto, res.Rate, res.OK, res.Errors, res.BadStatus, res.Unsent, res.Late, res.Latency.P50, res.Latency.P99, res.Latency.Max)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", args...)
	os.Exit(2)
}

type job struct {
	intended time.Time
	measured bool
}

// stats is one worker's tally, merged at the end.
type stats struct {
	ok, errs, bad, unsent, late uint64
	latency, sendLag            hist.Hist
	samples                     []string
}

func (s *stats) errorf(measured bool, format string, args ...any) {
	if !measured {
		return
	}
	s.errs++
	if len(s.samples) < 3 {
		s.samples = append(s.samples, fmt.Sprintf(format, args...))
	}
}

type runner struct {
	cfg      config
	graceEnd time.Time
	request  []byte // HTTP/1.1 request bytes
	addr     string
	host     string
	sched    *stats // the scheduler's own tally (send lag of what it wrote)
	poolFull uint64 // written by the scheduler only
	wg       sync.WaitGroup

	mu       sync.Mutex
	all      []*stats
	conns    int64   // connections (or h2c slots) started
	starting int     // of which still connecting
	free     []*slot // HTTP/1.1: connected and idle
	pending  []job   // waiting for a connection, oldest first
	finished bool    // the schedule is over

	// h2c only
	jobs    chan job
	idle    atomic.Int64
	clients []*http.Client
}

func run(cfg config) (*Result, error) {
	interval := time.Duration(float64(time.Second) / cfg.rate)
	total := int((cfg.warmup + cfg.duration) / interval)
	warm := int(cfg.warmup / interval)
	r := &runner{cfg: cfg, addr: cfg.url.Host, sched: &stats{}}
	r.all = append(r.all, r.sched)
	r.host = cfg.host
	if r.host == "" {
		r.host = cfg.url.Host
	}
	path := cfg.url.RequestURI()
	r.request = []byte("GET " + path + " HTTP/1.1\r\nHost: " + r.host + "\r\nUser-Agent: trellis-bench-loadgen\r\nAccept: */*\r\n\r\n")
	if cfg.h2c {
		r.jobs = make(chan job, total+1)
		for range cfg.conns {
			protos := new(http.Protocols)
			protos.SetUnencryptedHTTP2(true)
			tr := &http.Transport{Protocols: protos, DisableCompression: true,
				DialContext: (&net.Dialer{Timeout: cfg.timeout}).DialContext}
			r.clients = append(r.clients, &http.Client{Transport: tr, Timeout: cfg.timeout})
		}
		// Open each connection before the clock starts.
		for _, c := range r.clients {
			if err := h2cProbe(c, cfg, r.host); err != nil {
				return nil, fmt.Errorf("h2c connection to %s: %w", cfg.url, err)
			}
		}
	}
	// The initial pool: connected before the schedule starts.
	var ready sync.WaitGroup
	for range cfg.conns {
		ready.Add(1)
		r.mu.Lock()
		r.spawnLocked(&ready)
		r.mu.Unlock()
	}
	ready.Wait()

	start := time.Now().Add(5 * time.Millisecond)
	end := start.Add(time.Duration(total) * interval)
	r.graceEnd = end.Add(cfg.grace)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		sched.SetTimerSlack(1)
		w := sched.Waiter{NoSpin: !cfg.spin}
		for i := 0; i < total; i++ {
			t := start.Add(time.Duration(i) * interval)
			w.Until(t)
			j := job{intended: t, measured: i >= warm}
			if cfg.h2c {
				r.dispatchH2C(j)
			} else {
				r.dispatchH1(j)
			}
		}
		r.finish()
	}()
	<-done
	r.wg.Wait()
	for _, c := range r.clients {
		c.CloseIdleConnections()
	}

	var sum stats
	for _, s := range r.all {
		sum.ok += s.ok
		sum.errs += s.errs
		sum.bad += s.bad
		sum.unsent += s.unsent
		sum.late += s.late
		sum.latency.Merge(&s.latency)
		sum.sendLag.Merge(&s.sendLag)
		for _, e := range s.samples {
			if len(sum.samples) < 5 {
				sum.samples = append(sum.samples, e)
			}
		}
	}
	proto := "http/1.1"
	if cfg.h2c {
		proto = "h2c"
	}
	measuredDur := time.Duration(total-warm) * interval
	return &Result{
		URL: cfg.url.String(), Host: cfg.host, Proto: proto, Rate: cfg.rate,
		DurationS: measuredDur.Seconds(), WarmupS: (time.Duration(warm) * interval).Seconds(),
		Scheduled: uint64(total - warm), OK: sum.ok, Errors: sum.errs, BadStatus: sum.bad, Unsent: sum.unsent,
		Late: sum.late, PoolFull: r.poolFull, Conns: r.conns,
		AchievedRate: float64(sum.ok) / measuredDur.Seconds(),
		Latency:      sum.latency.Micros(), SendLag: sum.sendLag.Micros(),
		ErrorSamples: sum.samples,
	}, nil
}

// spawnLocked starts a connection (HTTP/1.1) or a worker (h2c); ready (if
// any) is marked done once it connected. r.mu is held.
func (r *runner) spawnLocked(ready *sync.WaitGroup) {
	s := &stats{}
	r.all = append(r.all, s)
	r.conns++
	r.starting++
	n := r.conns
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if r.cfg.h2c {
			r.h2cWorker(s, r.clients[int(n-1)%len(r.clients)], ready)
		} else {
			c := &slot{r: r, s: s, ch: make(chan sent, 1), br: bufio.NewReaderSize(nil, 16<<10)}
			c.run(ready)
		}
	}()
}

// dispatchH1 sends j now on a free connection, or queues it for the next
// connection that becomes free (growing the pool when it may).
func (r *runner) dispatchH1(j job) {
	r.mu.Lock()
	if n := len(r.free); n > 0 {
		c := r.free[n-1]
		r.free = r.free[:n-1]
		r.mu.Unlock()
		r.begin(r.sched, j, time.Now())
		c.ch <- sent{j: j, err: c.write()}
		return
	}
	r.pending = append(r.pending, j)
	if len(r.pending) > r.starting {
		if r.conns < int64(r.cfg.maxConns) {
			r.spawnLocked(nil)
		} else if j.measured {
			r.poolFull++
		}
	}
	r.mu.Unlock()
}

// finish ends the schedule: idle connections are told to stop; busy ones
// stop once nothing is pending.
func (r *runner) finish() {
	if r.cfg.h2c {
		close(r.jobs)
		return
	}
	r.mu.Lock()
	r.finished = true
	for _, c := range r.free {
		close(c.ch)
	}
	r.free = nil
	r.mu.Unlock()
}

// begin accounts for a job about to be sent; false when it is past the grace
// period and is dropped as unsent.
func (r *runner) begin(s *stats, j job, now time.Time) bool {
	if now.After(r.graceEnd) {
		if j.measured {
			s.unsent++
		}
		return false
	}
	if j.measured {
		lag := now.Sub(j.intended)
		s.sendLag.Record(int64(lag))
		if lag > time.Millisecond {
			s.late++
		}
	}
	return true
}

func (r *runner) done(s *stats, j job, status int, bodyLen int64) {
	if !j.measured {
		return
	}
	s.latency.Record(int64(time.Since(j.intended)))
	if status != r.cfg.expectStatus || (r.cfg.expectBodyLen >= 0 && bodyLen != r.cfg.expectBodyLen) {
		s.bad++
		if len(s.samples) < 3 {
			s.samples = append(s.samples, fmt.Sprintf("status %d, body %d bytes", status, bodyLen))
		}
		return
	}
	s.ok++
}

// sent is a request written to a connection, handed to its reader.
type sent struct {
	j   job
	err error // of the write
}

// slot is one HTTP/1.1 keep-alive connection: whoever takes it from the
// free list writes one request on it, and its goroutine reads the response.
type slot struct {
	r    *runner
	s    *stats
	conn net.Conn
	br   *bufio.Reader
	ch   chan sent
}

func (c *slot) dial() error {
	conn, err := net.DialTimeout("tcp", c.r.addr, c.r.cfg.timeout)
	if err != nil {
		return err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	c.conn = conn
	c.br.Reset(conn)
	return nil
}

func (c *slot) write() error {
	_ = c.conn.SetDeadline(time.Now().Add(c.r.cfg.timeout))
	_, err := c.conn.Write(c.r.request)
	return err
}

func (c *slot) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

func (c *slot) run(ready *sync.WaitGroup) {
	r := c.r
	dialErr := c.dial()
	r.mu.Lock()
	r.starting--
	r.mu.Unlock()
	if ready != nil {
		ready.Done()
	}
	defer c.close()
	for {
		if c.conn == nil {
			if dialErr = c.dial(); dialErr != nil {
				// Fail the oldest waiting request rather than let it wait.
				r.mu.Lock()
				if len(r.pending) == 0 && r.finished {
					r.mu.Unlock()
					return
				}
				var j job
				have := len(r.pending) > 0
				if have {
					j = r.pending[0]
					r.pending = r.pending[1:]
				}
				r.mu.Unlock()
				if have && r.begin(c.s, j, time.Now()) {
					c.s.errorf(j.measured, "connect: %v", dialErr)
				}
				time.Sleep(10 * time.Millisecond) // no tight loop against a dead target
				continue
			}
		}
		var sj sent
		r.mu.Lock()
		switch {
		case len(r.pending) > 0:
			sj.j = r.pending[0]
			r.pending = r.pending[1:]
			r.mu.Unlock()
			if !r.begin(c.s, sj.j, time.Now()) {
				continue
			}
			sj.err = c.write()
		case r.finished:
			r.mu.Unlock()
			return
		default:
			r.free = append(r.free, c)
			r.mu.Unlock()
			var ok bool
			if sj, ok = <-c.ch; !ok {
				return
			}
		}
		err := sj.err
		var (
			status  int
			bodyLen int64
			closeIt bool
		)
		if err == nil {
			status, bodyLen, closeIt, err = readResponse(c.br)
		}
		if err != nil {
			c.s.errorf(sj.j.measured, "%v", err)
			c.close()
			continue
		}
		r.done(c.s, sj.j, status, bodyLen)
		if closeIt {
			c.close()
		}
	}
}

// dispatchH2C hands j to a free worker, growing the pool when none is.
func (r *runner) dispatchH2C(j job) {
	r.jobs <- j
	r.mu.Lock()
	if int64(len(r.jobs)) > r.idle.Load()+int64(r.starting) {
		if r.conns < int64(r.cfg.maxConns) {
			r.spawnLocked(nil)
		} else if j.measured {
			r.poolFull++
		}
	}
	r.mu.Unlock()
}

func (r *runner) h2cWorker(s *stats, c *http.Client, ready *sync.WaitGroup) {
	r.mu.Lock()
	r.starting--
	r.mu.Unlock()
	if ready != nil {
		ready.Done()
	}
	req, _ := http.NewRequest(http.MethodGet, r.cfg.url.String(), nil)
	req.Host = r.host
	req.Header.Set("User-Agent", "trellis-bench-loadgen")
	for {
		r.idle.Add(1)
		j, ok := <-r.jobs
		r.idle.Add(-1)
		if !ok {
			return
		}
		if !r.begin(s, j, time.Now()) {
			continue
		}
		res, err := c.Do(req)
		if err != nil {
			s.errorf(j.measured, "%v", err)
			continue
		}
		n, err := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if err != nil {
			s.errorf(j.measured, "body: %v", err)
			continue
		}
		if res.ProtoMajor != 2 {
			s.errorf(j.measured, "answered over %s, not HTTP/2", res.Proto)
			continue
		}
		r.done(s, j, res.StatusCode, n)
	}
}

func h2cProbe(c *http.Client, cfg config, host string) error {
	req, _ := http.NewRequest(http.MethodGet, cfg.url.String(), nil)
	req.Host = host
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return nil
}

var errMalformed = errors.New("malformed response")

// readResponse reads one HTTP/1.x response and discards its body. closeConn
// reports that the connection cannot carry another request.
func readResponse(br *bufio.Reader) (status int, bodyLen int64, closeConn bool, err error) {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, 0, true, err
		}
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
			return 0, 0, true, fmt.Errorf("%w: status line %q", errMalformed, bytes.TrimSpace(line))
		}
		status, err = strconv.Atoi(string(line[9:12]))
		if err != nil {
			return 0, 0, true, fmt.Errorf("%w: status line %q", errMalformed, bytes.TrimSpace(line))
		}
		closeConn = line[7] == '0' // HTTP/1.0 closes unless it says keep-alive
		contentLength := int64(-1)
		chunked := false
		for {
			h, err := br.ReadSlice('\n')
			if err != nil {
				return 0, 0, true, err
			}
			h = bytes.TrimRight(h, "\r\n")
			if len(h) == 0 {
				break
			}
			colon := bytes.IndexByte(h, ':')
			if colon <= 0 {
				return 0, 0, true, fmt.Errorf("%w: header line %q", errMalformed, h)
			}
			name, value := h[:colon], bytes.TrimSpace(h[colon+1:])
			switch {
			case equalFold(name, "content-length"):
				contentLength, err = strconv.ParseInt(string(value), 10, 64)
				if err != nil || contentLength < 0 {
					return 0, 0, true, fmt.Errorf("%w: Content-Length %q", errMalformed, value)
				}
			case equalFold(name, "transfer-encoding"):
				chunked = equalFold(value, "chunked")
			case equalFold(name, "connection"):
				if equalFold(value, "close") {
					closeConn = true
				} else if equalFold(value, "keep-alive") {
					closeConn = false
				}
			}
		}
		if status >= 100 && status < 200 {
			continue // an interim response; the final one follows
		}
		switch {
		case status == 204 || status == 304:
			return status, 0, closeConn, nil
		case chunked:
			n, err := discardChunked(br)
			return status, n, closeConn || err != nil, err
		case contentLength >= 0:
			n, err := br.Discard(int(contentLength))
			return status, int64(n), closeConn || err != nil, err
		default: // until the server closes
			n, err := io.Copy(io.Discard, br)
			return status, n, true, err
		}
	}
}

func discardChunked(br *bufio.Reader) (int64, error) {
	var total int64
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return total, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || n < 0 {
			return total, fmt.Errorf("%w: chunk size %q", errMalformed, line)
		}
		if n == 0 {
			for {
				t, err := br.ReadSlice('\n')
				if err != nil {
					return total, err
				}
				if len(bytes.TrimRight(t, "\r\n")) == 0 {
					return total, nil
				}
			}
		}
		if _, err := br.Discard(int(n)); err != nil {
			return total, err
		}
		total += n
		if _, err := br.Discard(2); err != nil {
			return total, err
		}
	}
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
