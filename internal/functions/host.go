package functions

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/trellis-net/trellis/internal/model"
)

// MaxPayload is Lambda's limit for a synchronous invocation's request and
// response payloads: 6 MB (6291456 bytes) each way.
const MaxPayload = 6 << 20

// Defaults of Config.
const (
	DefaultIdleTimeout = 5 * time.Minute
	DefaultInitTimeout = 10 * time.Second // Lambda's init phase limit
	DefaultLogMaxBytes = 8 << 20
	// LogTailBytes is how much of the log X-Amz-Log-Result carries (Lambda:
	// the last 4 KB).
	LogTailBytes = 4096
)

// Errors of Invoke. The lead's Lambda invoker maps them onto its own
// (ErrFunctionNotFound, ErrThrottled, ErrTimeout, ErrPayloadTooLarge).
var (
	// ErrNotFound: no such function (or not this account's).
	ErrNotFound = errors.New("functions: function not found")
	// ErrThrottled: the function already runs maxConcurrency invocations.
	ErrThrottled = errors.New("functions: function concurrency limit reached")
	// ErrTimeout: the invocation ran past the function's timeout; the
	// worker was killed. The Result carries Lambda's timeout document with
	// FunctionError "Unhandled".
	ErrTimeout = errors.New("functions: task timed out")
	// ErrTooLarge: the request payload is larger than MaxPayload.
	ErrTooLarge = errors.New("functions: request payload too large")
	// ErrClosed: the host is closed.
	ErrClosed = errors.New("functions: host closed")
)

// Result is an invocation's outcome: the function's response payload, or
// with FunctionError set ("Unhandled", as Lambda's X-Amz-Function-Error)
// the error document.
type Result struct {
	Payload       []byte
	FunctionError string
}

// FunctionErrorUnhandled is the X-Amz-Function-Error of every function
// error (Lambda has retired "Handled").
const FunctionErrorUnhandled = "Unhandled"

// Source is where the host reads function declarations.
type Source interface {
	// LookupFunction returns the function of a full function ARN (no
	// qualifier), or nil when there is none.
	LookupFunction(ctx context.Context, functionARN string) (*model.Function, error)
}

// Config configures a Host.
type Config struct {
	Source Source
	// Dir holds the functions' logs, DIR/ACCOUNT/NAME.log.
	Dir string
	// Partition ("aws" unless set) and Region of this installation: bare
	// names given to Invoke are completed with them and DefaultAccount.
	Partition, Region, DefaultAccount string
	// IdleTimeout stops a worker idle that long (DefaultIdleTimeout).
	IdleTimeout time.Duration
	// InitTimeout bounds a new worker's start until it asks for its first
	// invocation (DefaultInitTimeout).
	InitTimeout time.Duration
	// LogMaxBytes caps each function's log before rotation (DefaultLogMaxBytes).
	LogMaxBytes int64
	Logger      *slog.Logger
}

// Host runs hosted functions. It is safe for concurrent use.
type Host struct {
	cfg  Config
	mu   sync.Mutex
	pool map[string]*pool // by function ARN
	logs map[string]*logFile
	// closed is set by Close; no worker starts after it.
	closed bool
	stop   chan struct{}
	wg     sync.WaitGroup // the reaper, worker waiters, async and abandoned invocations
}

// pool is the workers of one revision of a function.
type pool struct {
	fn       *model.Function
	log      *logFile
	idle     []*worker // most recently used last
	workers  map[*worker]struct{}
	inflight int
	retired  bool
	lastUsed time.Time
}

// New returns a Host; Close stops it.
func New(cfg Config) *Host {
	if cfg.Partition == "" {
		cfg.Partition = "aws"
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.InitTimeout <= 0 {
		cfg.InitTimeout = DefaultInitTimeout
	}
	if cfg.LogMaxBytes <= 0 {
		cfg.LogMaxBytes = DefaultLogMaxBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Host{cfg: cfg, pool: map[string]*pool{}, logs: map[string]*logFile{}, stop: make(chan struct{})}
	h.wg.Add(1)
	go h.reap()
	return h
}

// ARN completes a function identifier (a name, a partial or a full ARN,
// qualifier $LATEST or none) into the function's ARN, with the host's
// default account for a bare name.
func (h *Host) ARN(function string) (string, error) {
	ref, ok := model.ParseFunctionRef(function)
	if !ok || (ref.Qualifier != "" && ref.Qualifier != model.FunctionVersionLatest) {
		return "", ErrNotFound
	}
	if ref.Account == "" {
		ref.Account = h.cfg.DefaultAccount
	}
	if ref.Region == "" {
		ref.Region, ref.Partition = h.cfg.Region, h.cfg.Partition
	}
	if ref.Region != h.cfg.Region || ref.Partition != h.cfg.Partition || ref.Account == "" {
		return "", ErrNotFound
	}
	return model.FunctionARN(ref.Partition, ref.Region, ref.Account, ref.Name), nil
}

// Invoke runs one synchronous invocation of function (a name, a partial
// or a full ARN) with payload. It is the shape of the data plane's Lambda
// invoker: the caller has decided the invocation is allowed.
func (h *Host) Invoke(ctx context.Context, function string, payload []byte) (Result, error) {
	arn, err := h.ARN(function)
	if err != nil {
		return Result{}, err
	}
	fn, err := h.lookup(ctx, arn)
	if err != nil {
		return Result{}, err
	}
	return h.InvokeFunction(ctx, fn, payload)
}

// lookup returns the declaration of arn: the running pool's while it is
// current (a PUT or DELETE reaches the host through Forget or Sync), else
// the Source's.
func (h *Host) lookup(ctx context.Context, arn string) (*model.Function, error) {
	h.mu.Lock()
	if p := h.pool[arn]; p != nil {
		fn := p.fn
		h.mu.Unlock()
		return fn, nil
	}
	h.mu.Unlock()
	if h.cfg.Source == nil {
		return nil, ErrNotFound
	}
	fn, err := h.cfg.Source.LookupFunction(ctx, arn)
	if err != nil {
		return nil, err
	}
	if fn == nil {
		return nil, ErrNotFound
	}
	return fn, nil
}

// InvokeFunction runs one synchronous invocation of fn, a declaration the
// caller has read (the API resolves it for the caller's account).
func (h *Host) InvokeFunction(ctx context.Context, fn *model.Function, payload []byte) (Result, error) {
	if len(payload) > MaxPayload {
		return Result{}, ErrTooLarge
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return Result{}, ErrClosed
	}
	p, err := h.poolFor(fn)
	if err != nil {
		h.mu.Unlock()
		return Result{}, err
	}
	if p.inflight >= fn.MaxConcurrency {
		h.mu.Unlock()
		return Result{}, ErrThrottled
	}
	p.inflight++
	var w *worker
	if n := len(p.idle); n > 0 {
		w = p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
	}
	h.mu.Unlock()

	inv := newInvocation(fn, payload)
	for {
		if w == nil {
			if w, err = h.startWorker(p); err != nil {
				h.release(p, nil)
				p.log.printf("INIT_REPORT RequestId: %s Error: %s\n", inv.id, sanitizeLine(err.Error()))
				return Result{Payload: errorDoc("Runtime.InvalidEntrypoint", "RequestId: "+inv.id+" Error: "+err.Error()),
					FunctionError: FunctionErrorUnhandled}, nil
			}
		}
		inv.dispatch(w)
		res, err, retry := h.await(ctx, p, w, inv)
		if !retry {
			return res, err
		}
		w = nil
	}
}

// await waits for inv's outcome on w: taken by the worker within the init
// limit (a cold start) and answered within the function's timeout. retry
// is true when a warm worker exited before taking inv: it was ending after
// its previous invocation (aws-lambda-go exits after reporting a panic, or
// when the Runtime API refused its response), which is that invocation's
// failure, not this one's, so inv goes to a new worker.
func (h *Host) await(ctx context.Context, p *pool, w *worker, inv *invocation) (res Result, err error, retry bool) {
	limit := h.cfg.InitTimeout
	w.timer.Reset(limit)
	select {
	case <-inv.taken:
	case <-w.exited:
		w.timer.Stop()
		if inv.withdraw() {
			break // taken, then the worker died: finish tells which
		}
		if w.served.Load() {
			return Result{}, nil, true
		}
		h.release(p, w)
		return w.exitResult(inv), nil, false
	case <-w.timer.C:
		if inv.withdraw() {
			break
		}
		w.kill()
		h.release(p, w)
		msg := "RequestId: " + inv.id + " Error: the runtime did not ask for an invocation within " + limit.String() + " of its start (init phase timeout)"
		p.log.printf("%s\n", msg)
		return Result{Payload: errorDoc("Sandbox.Timedout", msg), FunctionError: FunctionErrorUnhandled}, ErrTimeout, false
	case <-ctx.Done():
		inv.detach()
		h.abandon(p, w, inv)
		return Result{}, ctx.Err(), false
	}
	res, err = h.finish(ctx, p, w, inv)
	return res, err, false
}

// finish waits for the answer of an invocation the worker has taken.
func (h *Host) finish(ctx context.Context, p *pool, w *worker, inv *invocation) (Result, error) {
	w.timer.Reset(time.Until(inv.deadline))
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	// However it ends, the worker's handler is done with the caller's
	// payload before Invoke returns (the data plane reuses the buffer).
	defer inv.settled()
	select {
	case <-inv.done:
		w.timer.Stop()
		// Appended by hand: this is every warm invocation's path.
		var buf [192]byte
		b := append(buf[:0], "END RequestId: "...)
		b = append(b, inv.id...)
		b = append(b, "\nREPORT RequestId: "...)
		b = append(b, inv.id...)
		b = append(b, "\tDuration: "...)
		b = strconv.AppendFloat(b, float64(time.Since(inv.started).Microseconds())/1000, 'f', 2, 64)
		b = append(b, " ms\tMemory Size: "...)
		b = strconv.AppendInt(b, int64(p.fn.MemorySize), 10)
		b = append(b, " MB\n"...)
		_, _ = p.log.Write(b)
		h.release(p, w)
		return inv.result, nil
	case <-w.exited:
		w.timer.Stop()
		if isClosed(inv.done) {
			// Answered, then exited (aws-lambda-go exits after reporting a
			// panic): the answer is the outcome.
			h.release(p, w)
			return inv.result, nil
		}
		h.release(p, w)
		return w.exitResult(inv), nil
	case <-w.timer.C:
		if isClosed(inv.done) {
			h.release(p, w)
			return inv.result, nil
		}
		w.kill()
		h.release(p, w)
		msg := "RequestId: " + inv.id + " Error: Task timed out after " + strconv.Itoa(p.fn.TimeoutSeconds) + ".00 seconds"
		p.log.printf("%s\n", msg)
		return Result{Payload: errorDoc("Sandbox.Timedout", msg), FunctionError: FunctionErrorUnhandled}, ErrTimeout
	case <-done:
		inv.detach()
		h.abandon(p, w, inv)
		return Result{}, ctx.Err()
	}
}

// abandon lets an invocation whose caller left run to its end in the
// background, as Lambda does: the worker and the concurrency slot are
// released when it answers, exits or times out.
func (h *Host) abandon(p *pool, w *worker, inv *invocation) {
	h.mu.Lock()
	if h.closed {
		// Close has killed the workers and may be waiting already: nothing
		// is left to run.
		h.mu.Unlock()
		w.kill()
		h.release(p, w)
		return
	}
	h.wg.Add(1)
	h.mu.Unlock()
	go func() {
		defer h.wg.Done()
		select {
		case <-inv.taken:
		case <-w.exited:
			w.timer.Stop()
			h.release(p, w)
			return
		case <-w.timer.C:
			w.kill()
			h.release(p, w)
			return
		}
		_, _ = h.finish(nil, p, w, inv)
	}()
}

// InvokeAsync runs an asynchronous invocation (InvocationType Event) in the
// background. A throttled one is tried again a few times, with backoff, as
// Lambda's event queue does; its outcome goes to the function's log only.
func (h *Host) InvokeAsync(fn *model.Function, payload []byte) error {
	if len(payload) > MaxPayload {
		return ErrTooLarge
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClosed
	}
	h.wg.Add(1)
	h.mu.Unlock()
	go func() {
		defer h.wg.Done()
		delay := time.Second
		for try := 0; ; try++ {
			res, err := h.InvokeFunction(context.Background(), fn, payload)
			if errors.Is(err, ErrThrottled) && try < 5 {
				select {
				case <-time.After(delay):
					delay *= 2
					continue
				case <-h.stop:
					return
				}
			}
			if err != nil || res.FunctionError != "" {
				h.cfg.Logger.Debug("functions: asynchronous invocation failed", "function", fn.ARN, "err", err,
					"functionError", res.FunctionError)
			}
			return
		}
	}()
	return nil
}

// poolFor returns fn's current pool, replacing one of another revision.
// h.mu is held.
func (h *Host) poolFor(fn *model.Function) (*pool, error) {
	p := h.pool[fn.ARN]
	if p != nil && p.fn.RevisionID == fn.RevisionID {
		return p, nil
	}
	if p != nil {
		h.retire(fn.ARN, p)
	}
	l, err := h.logFor(fn)
	if err != nil {
		return nil, err
	}
	p = &pool{fn: fn, log: l, workers: map[*worker]struct{}{}, lastUsed: time.Now()}
	h.pool[fn.ARN] = p
	return p, nil
}

// logFor returns the log of fn, shared by its revisions. h.mu is held.
func (h *Host) logFor(fn *model.Function) (*logFile, error) {
	if l := h.logs[fn.ARN]; l != nil {
		return l, nil
	}
	path, err := logPath(h.cfg.Dir, fn.Account, fn.Name)
	if err != nil {
		return nil, err
	}
	l, err := openLog(path, h.cfg.LogMaxBytes)
	if err != nil {
		return nil, err
	}
	h.logs[fn.ARN] = l
	return l, nil
}

// retire takes p out of service: its idle workers stop now, its busy ones
// when their invocation ends. h.mu is held.
func (h *Host) retire(arn string, p *pool) {
	if h.pool[arn] == p {
		delete(h.pool, arn)
	}
	p.retired = true
	for _, w := range p.idle {
		w.kill()
	}
	p.idle = nil
}

// release gives back an invocation's slot and its worker: to the idle
// list when the worker lives and its pool is current, else it is stopped.
func (h *Host) release(p *pool, w *worker) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p.inflight--
	p.lastUsed = time.Now()
	if w == nil {
		return
	}
	if p.retired || h.closed || w.isDead() {
		w.kill()
		return
	}
	w.lastUsed = p.lastUsed
	p.idle = append(p.idle, w)
}

// Forget drops what the host holds of a function (after a PUT or a DELETE):
// its idle workers stop now, busy ones when they finish; the next
// invocation reads the declaration again.
func (h *Host) Forget(functionARN string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p := h.pool[functionARN]; p != nil {
		h.retire(functionARN, p)
	}
}

// Sync compares every running function with its declaration in the Source
// and retires those deleted or changed (another API node's PUT or DELETE).
func (h *Host) Sync(ctx context.Context) error {
	if h.cfg.Source == nil {
		return nil
	}
	h.mu.Lock()
	running := make(map[string]*pool, len(h.pool))
	for arn, p := range h.pool {
		running[arn] = p
	}
	h.mu.Unlock()
	var errs []error
	for arn, p := range running {
		fn, err := h.cfg.Source.LookupFunction(ctx, arn)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if fn == nil || fn.RevisionID != p.fn.RevisionID {
			h.mu.Lock()
			if h.pool[arn] == p {
				h.retire(arn, p)
			}
			if fn == nil {
				if l := h.logs[arn]; l != nil && p.inflight == 0 {
					delete(h.logs, arn)
					l.close()
				}
			}
			h.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

// Run calls Sync on every signal of changes until ctx ends.
func (h *Host) Run(ctx context.Context, changes <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
			if err := h.Sync(ctx); err != nil {
				h.cfg.Logger.Warn("functions: sync with the store failed", "err", err)
			}
		}
	}
}

// reap stops workers idle longer than the idle timeout, and forgets
// functions with no worker left.
func (h *Host) reap() {
	defer h.wg.Done()
	tick := min(h.cfg.IdleTimeout/2, 30*time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		now := time.Now()
		h.mu.Lock()
		for arn, p := range h.pool {
			keep := p.idle[:0]
			for _, w := range p.idle {
				if now.Sub(w.lastUsed) >= h.cfg.IdleTimeout {
					w.kill()
				} else {
					keep = append(keep, w)
				}
			}
			clear(p.idle[len(keep):])
			p.idle = keep
			if len(p.idle) == 0 && p.inflight == 0 && len(p.workers) == 0 && now.Sub(p.lastUsed) >= h.cfg.IdleTimeout {
				// Forgotten until its next invocation, which reads the
				// declaration again and reopens the log.
				delete(h.pool, arn)
				if l := h.logs[arn]; l != nil {
					delete(h.logs, arn)
					l.close()
				}
			}
		}
		h.mu.Unlock()
	}
}

// Workers returns the process IDs of fn's live workers (diagnostics, tests).
func (h *Host) Workers(functionARN string) []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	var pids []int
	if p := h.pool[functionARN]; p != nil {
		for w := range p.workers {
			if !w.isDead() {
				pids = append(pids, w.pid)
			}
		}
	}
	return pids
}

// LogTail returns the last LogTailBytes of the function's log (Lambda's
// X-Amz-Log-Result), after what its workers printed has reached it.
func (h *Host) LogTail(functionARN string) []byte {
	h.mu.Lock()
	l := h.logs[functionARN]
	var ws []*worker
	if p := h.pool[functionARN]; p != nil {
		for w := range p.workers {
			ws = append(ws, w)
		}
	}
	h.mu.Unlock()
	if l == nil {
		return nil
	}
	for _, w := range ws {
		w.drainOutput()
	}
	return l.tail(LogTailBytes)
}

// LogPath is where the log of fn is kept.
func (h *Host) LogPath(account, name string) (string, error) {
	return logPath(h.cfg.Dir, account, name)
}

// Close stops every worker (with its process group) and waits, bounded by
// ctx, for them and the host's goroutines to end.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	close(h.stop)
	for arn, p := range h.pool {
		h.retire(arn, p)
		for w := range p.workers {
			w.kill()
		}
	}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	h.mu.Lock()
	for arn, l := range h.logs {
		l.close()
		delete(h.logs, arn)
	}
	h.mu.Unlock()
	return nil
}

// invocation is one invocation on its way through a worker.
//
// Its payload is the caller's buffer, which the caller may reuse once
// Invoke returns (the data plane does): the worker that takes it writes it
// out, and Invoke does not return before that write is over (sent), or,
// when it returns before the invocation was taken, it hands the worker a
// copy instead.
type invocation struct {
	id      string
	fn      *model.Function
	taken   chan struct{} // closed when the worker took it (deadline set)
	sent    chan struct{} // closed when the worker's handler has written the payload
	done    chan struct{} // closed when it is answered (result set)
	started time.Time
	result  Result

	mu sync.Mutex
	// owner is the worker it is dispatched to: only that one may take it;
	// nil once withdrawn.
	owner    *worker
	isTaken  bool
	payload  []byte
	deadline time.Time
}

func newInvocation(fn *model.Function, payload []byte) *invocation {
	return &invocation{id: newRequestID(), fn: fn, payload: payload, taken: make(chan struct{}),
		sent: make(chan struct{}), done: make(chan struct{})}
}

// dispatch hands inv to w.
func (inv *invocation) dispatch(w *worker) {
	inv.mu.Lock()
	inv.owner = w
	inv.mu.Unlock()
	w.next <- inv // a worker runs one invocation at a time: never blocks
}

// take is w taking inv: its payload, and the deadline set from now; nil
// when inv is not w's to take (withdrawn, or given to another worker).
func (inv *invocation) take(w *worker) []byte {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.owner != w || inv.isTaken {
		return nil
	}
	inv.isTaken = true
	now := time.Now()
	inv.started = now
	inv.deadline = now.Add(time.Duration(inv.fn.TimeoutSeconds) * time.Second)
	if inv.payload == nil {
		inv.payload = []byte{}
	}
	return inv.payload
}

// withdraw takes inv back from its worker unless it was taken; it
// reports whether it was taken.
func (inv *invocation) withdraw() (taken bool) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if !inv.isTaken {
		inv.owner = nil
	}
	return inv.isTaken
}

// detach makes inv independent of the caller's buffer before Invoke
// returns early: a copy for a worker yet to take it, or the wait for the
// write of a worker that took it.
func (inv *invocation) detach() {
	inv.mu.Lock()
	if !inv.isTaken {
		inv.payload = bytes.Clone(inv.payload)
		inv.mu.Unlock()
		return
	}
	inv.mu.Unlock()
	<-inv.sent
}

// settled waits, for an invocation that was taken, until its worker's
// handler has written the payload: after it, the caller's buffer is free.
// The write ends at once in practice (the worker has answered or is dead).
func (inv *invocation) settled() {
	inv.mu.Lock()
	taken := inv.isTaken
	inv.mu.Unlock()
	if taken {
		<-inv.sent
	}
}

// newRequestID is a Lambda request ID: a random UUID.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// errorDoc is Lambda's error document {"errorType", "errorMessage"}.
func errorDoc(typ, msg string) []byte {
	b, _ := json.Marshal(struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}{typ, msg})
	return b
}

// isClosed reports whether ch is closed, without waiting.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// sanitizeLine keeps a message on one log line.
func sanitizeLine(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = ' '
		}
	}
	return string(b)
}

// taskRoot is the directory of fn's program: its working directory and
// LAMBDA_TASK_ROOT.
func taskRoot(fn *model.Function) string { return filepath.Dir(fn.Command[0]) }
