package functions

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trellis-net/trellis/internal/model"
)

// worker is one process of a function and the Runtime API listener that
// serves it, on a loopback port of its own: whoever talks to that port sees
// only this worker's invocations.
type worker struct {
	h    *Host
	fn   *model.Function
	log  *logFile
	pid  int
	cmd  *exec.Cmd
	ln   net.Listener
	srv  *http.Server
	next chan *invocation // the invocation to hand out; one at a time
	// exited is closed when the process has exited and been reaped.
	exited chan struct{}
	// copied is closed when the output pipe is read to its end.
	copied chan struct{}
	// timer bounds the current invocation (reused: one at a time).
	timer    *time.Timer
	lastUsed time.Time // under h.mu

	mu      sync.Mutex
	cur     *invocation // taken and not answered
	initErr []byte      // what /init/error posted
	exitErr error

	out     *os.File // read end of the worker's stdout and stderr
	copying atomic.Bool
	dead    atomic.Bool
	// served is set once the worker took an invocation: it is warm.
	served atomic.Bool
}

// Runtime API paths (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).
const (
	pathNext      = "/2018-06-01/runtime/invocation/next"
	pathInvPrefix = "/2018-06-01/runtime/invocation/"
	pathInitError = "/2018-06-01/runtime/init/error"
)

// startWorker starts a worker of p's function: the command executed
// directly (never through a shell) in its own directory, with the
// function's environment and the Runtime API's.
func (h *Host) startWorker(p *pool) (*worker, error) {
	fn := p.fn
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	w := &worker{h: h, fn: fn, log: p.log, ln: ln, next: make(chan *invocation, 1), exited: make(chan struct{}), copied: make(chan struct{}),
		timer: time.NewTimer(time.Hour)}
	w.timer.Stop()
	w.srv = &http.Server{Handler: w, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
	pr, pw, err := os.Pipe()
	if err != nil {
		ln.Close()
		return nil, err
	}
	cmd := exec.Command(fn.Command[0], fn.Command[1:]...)
	cmd.Dir = taskRoot(fn)
	cmd.Env = h.environment(fn, ln.Addr().String())
	cmd.Stdin = nil // /dev/null
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = sysProcAttr()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		ln.Close()
		pr.Close()
		pw.Close()
		return nil, ErrClosed
	}
	err = cmd.Start()
	if err != nil {
		h.mu.Unlock()
		ln.Close()
		pr.Close()
		pw.Close()
		return nil, err
	}
	w.cmd, w.pid, w.out = cmd, cmd.Process.Pid, pr
	p.workers[w] = struct{}{}
	h.wg.Add(3)
	h.mu.Unlock()
	pw.Close()
	go func() {
		defer h.wg.Done()
		_ = w.srv.Serve(ln)
	}()
	go w.wait(p, pw)
	go w.copyOutput()
	return w, nil
}

// wait reaps the process, then stops what remains of the worker: its
// process group (children it left) and its listener.
func (w *worker) wait(p *pool, _ *os.File) {
	defer w.h.wg.Done()
	err := w.cmd.Wait()
	w.dead.Store(true)
	killGroup(w.pid)
	w.mu.Lock()
	w.exitErr = err
	w.mu.Unlock()
	_ = w.srv.Close()
	w.h.mu.Lock()
	delete(p.workers, w)
	for i, x := range p.idle {
		if x == w {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			break
		}
	}
	w.h.mu.Unlock()
	close(w.exited)
	// The output ends when the last process holding the pipe is gone; one
	// that left the process group (setsid) may hold it on: its output is
	// cut off after a second, so that Close does not wait for it.
	select {
	case <-w.copied:
	case <-time.After(time.Second):
		w.out.Close()
	}
}

// copyOutput copies the worker's stdout and stderr to the function's log
// until every process holding the pipe has closed it.
func (w *worker) copyOutput() {
	defer w.h.wg.Done()
	defer close(w.copied)
	buf := make([]byte, 32<<10)
	for {
		n, err := w.out.Read(buf)
		if n > 0 {
			w.copying.Store(true)
			_, _ = w.log.Write(buf[:n])
			w.copying.Store(false)
		}
		if err != nil {
			w.out.Close()
			return
		}
	}
}

func (w *worker) drainOutput() {
	if !w.dead.Load() {
		drainPipe(w.out, w.copying.Load, 100*time.Millisecond)
	}
}

// kill stops the worker's process group; wait reaps it.
func (w *worker) kill() {
	if w.dead.Load() {
		return
	}
	w.dead.Store(true)
	killGroup(w.pid)
}

func (w *worker) isDead() bool { return w.dead.Load() }

// exitResult is the outcome of an invocation whose worker exited: its init
// error if it posted one, else Lambda's Runtime.ExitError.
func (w *worker) exitResult(inv *invocation) Result {
	w.mu.Lock()
	initErr, exitErr := w.initErr, w.exitErr
	w.mu.Unlock()
	if initErr != nil {
		return Result{Payload: initErr, FunctionError: FunctionErrorUnhandled}
	}
	why := "exit status 0"
	if exitErr != nil {
		why = exitErr.Error()
	}
	msg := "RequestId: " + inv.id + " Error: Runtime exited with error: " + why
	w.log.printf("%s\n", msg)
	return Result{Payload: errorDoc("Runtime.ExitError", msg), FunctionError: FunctionErrorUnhandled}
}

// environment is what a worker gets: the function's variables, then
// Lambda's defined ones (which the function may not set; model checks).
// Nothing of Trellis's own environment is passed on: it may hold the root
// credentials.
func (h *Host) environment(fn *model.Function, runtimeAPI string) []string {
	env := make([]string, 0, len(fn.Environment)+20)
	for k, v := range fn.Environment {
		env = append(env, k+"="+v)
	}
	handler := fn.Handler
	if handler == "" {
		handler = fn.Command[0][strings.LastIndexByte(fn.Command[0], '/')+1:]
	}
	root := taskRoot(fn)
	var stream [16]byte
	copy(stream[:], newRequestID())
	env = append(env,
		"AWS_LAMBDA_RUNTIME_API="+runtimeAPI,
		"AWS_LAMBDA_FUNCTION_NAME="+fn.Name,
		"AWS_LAMBDA_FUNCTION_VERSION="+model.FunctionVersionLatest,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(fn.MemorySize),
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/"+fn.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME="+time.Now().UTC().Format("2006/01/02")+"/[$LATEST]"+strings.ReplaceAll(string(stream[:]), "-", ""),
		"AWS_REGION="+h.cfg.Region,
		"AWS_DEFAULT_REGION="+h.cfg.Region,
		"_HANDLER="+handler,
		"LAMBDA_TASK_ROOT="+root,
		"LAMBDA_RUNTIME_DIR="+root,
	)
	for k, v := range map[string]string{"TZ": ":UTC", "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "en_US.UTF-8"} {
		if _, ok := fn.Environment[k]; !ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// ServeHTTP serves the Runtime API to this worker.
func (w *worker) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case r.Method == http.MethodGet && p == pathNext:
		w.serveNext(rw, r)
	case r.Method == http.MethodPost && p == pathInitError:
		w.serveInitError(rw, r)
	case r.Method == http.MethodPost && strings.HasPrefix(p, pathInvPrefix):
		id, verb, ok := strings.Cut(p[len(pathInvPrefix):], "/")
		if !ok || (verb != "response" && verb != "error") {
			runtimeError(rw, http.StatusNotFound, "InvalidRequest", "no Runtime API operation at this path")
			return
		}
		w.serveAnswer(rw, r, id, verb == "error")
	default:
		// Among others the Extensions API, which aws-lambda-go tries for
		// its SIGTERM option: it logs a warning and carries on.
		runtimeError(rw, http.StatusNotFound, "InvalidRequest", "no Runtime API operation at this path")
	}
}

// serveNext blocks until the host hands this worker an invocation.
func (w *worker) serveNext(rw http.ResponseWriter, r *http.Request) {
	var inv *invocation
	var payload []byte
	for inv == nil {
		select {
		case inv = <-w.next:
		case <-r.Context().Done():
			return
		case <-w.exited:
			return
		}
		if payload = inv.take(w); payload == nil {
			inv = nil // withdrawn: the host gave it to another worker or up
		}
	}
	now := time.Now()
	w.mu.Lock()
	w.cur = inv
	w.mu.Unlock()
	w.served.Store(true)
	close(inv.taken)
	defer close(inv.sent)
	var buf [96]byte
	b := append(buf[:0], "START RequestId: "...)
	b = append(b, inv.id...)
	b = append(b, " Version: $LATEST\n"...)
	_, _ = w.log.Write(b)
	// One backing array for the header values: this is every
	// invocation's path.
	vals := make([]string, 5)
	vals[0], vals[1], vals[2] = inv.id, strconv.FormatInt(inv.deadline.UnixMilli(), 10), inv.fn.ARN
	vals[3], vals[4] = traceID(now, inv.id), strconv.Itoa(len(payload))
	h := rw.Header()
	h["Content-Type"] = hdrJSON
	h["Lambda-Runtime-Aws-Request-Id"] = vals[0:1:1]
	h["Lambda-Runtime-Deadline-Ms"] = vals[1:2:2]
	h["Lambda-Runtime-Invoked-Function-Arn"] = vals[2:3:3]
	h["Lambda-Runtime-Trace-Id"] = vals[3:4:4]
	h["Content-Length"] = vals[4:5:5]
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write(payload)
}

var (
	hdrJSON     = []string{"application/json"}
	acceptedDoc = []byte(`{"status":"OK"}`)
)

// traceID is an X-Ray trace header for the invocation: a root made of the
// time and the request ID's randomness, no parent span, not sampled.
func traceID(now time.Time, id string) string {
	var buf [64]byte
	b := append(buf[:0], "Root=1-"...)
	b = strconv.AppendInt(b, now.Unix(), 16)
	b = append(b, '-')
	for i := 0; i < len(id) && len(b) < 7+8+1+24; i++ {
		if id[i] != '-' {
			b = append(b, id[i])
		}
	}
	b = append(b, ";Sampled=0"...)
	return string(b)
}

// serveAnswer takes the response or the error of the current invocation.
func (w *worker) serveAnswer(rw http.ResponseWriter, r *http.Request, id string, isError bool) {
	w.mu.Lock()
	inv := w.cur
	w.mu.Unlock()
	if inv == nil || inv.id != id {
		runtimeError(rw, http.StatusBadRequest, "InvalidRequestID", "no invocation with this request ID is in progress on this runtime")
		return
	}
	body, tooLarge, err := readLimited(r.Body)
	if err != nil {
		return // the worker went away; its exit answers the invocation
	}
	var res Result
	switch {
	case tooLarge:
		msg := "Response payload size exceeded maximum allowed payload size (" + strconv.Itoa(MaxPayload) + " bytes)."
		res = Result{Payload: errorDoc("Function.ResponseSizeTooLarge", msg), FunctionError: FunctionErrorUnhandled}
		w.complete(inv, res)
		runtimeError(rw, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", msg)
		return
	case isError:
		res = Result{Payload: errorPayload(r.Header.Get("Lambda-Runtime-Function-Error-Type"), body), FunctionError: FunctionErrorUnhandled}
	case r.Trailer.Get("Lambda-Runtime-Function-Error-Type") != "":
		// A streamed response that failed midway (aws-lambda-go reports it
		// in trailers): an error, with the body the trailer carries.
		eb, _ := base64.StdEncoding.DecodeString(r.Trailer.Get("Lambda-Runtime-Function-Error-Body"))
		res = Result{Payload: errorPayload(r.Trailer.Get("Lambda-Runtime-Function-Error-Type"), eb), FunctionError: FunctionErrorUnhandled}
	default:
		res = Result{Payload: body}
	}
	if !w.complete(inv, res) {
		runtimeError(rw, http.StatusBadRequest, "InvalidStateTransition", "the invocation was already answered")
		return
	}
	rw.Header()["Content-Type"] = hdrJSON
	rw.WriteHeader(http.StatusAccepted)
	_, _ = rw.Write(acceptedDoc)
}

// complete answers inv once.
func (w *worker) complete(inv *invocation, res Result) bool {
	w.mu.Lock()
	if w.cur != inv {
		w.mu.Unlock()
		return false
	}
	w.cur = nil
	inv.result = res
	w.mu.Unlock()
	close(inv.done)
	return true
}

// serveInitError records the runtime's init error and stops the worker:
// the pending invocation answers with it (Lambda: FunctionError Unhandled,
// the error document as the payload).
func (w *worker) serveInitError(rw http.ResponseWriter, r *http.Request) {
	body, _, _ := readLimited(r.Body)
	doc := errorPayload(r.Header.Get("Lambda-Runtime-Function-Error-Type"), body)
	w.mu.Lock()
	w.initErr = doc
	w.mu.Unlock()
	w.log.printf("INIT_REPORT Status: error Error Type: %s\n", sanitizeLine(clip(r.Header.Get("Lambda-Runtime-Function-Error-Type"), 128)))
	rw.Header()["Content-Type"] = hdrJSON
	rw.WriteHeader(http.StatusAccepted)
	_, _ = rw.Write(acceptedDoc)
	if f, ok := rw.(http.Flusher); ok {
		f.Flush()
	}
	w.kill()
}

// errorPayload is the error document of an invocation: the runtime's JSON
// as posted, or, if it posted something else, a document of its error type
// and text.
func errorPayload(errType string, body []byte) []byte {
	if json.Valid(body) && len(bytes.TrimSpace(body)) > 0 && bytes.TrimSpace(body)[0] == '{' {
		return body
	}
	if errType == "" {
		errType = "Runtime.Unknown"
	}
	return errorDoc(clip(errType, 128), string(body))
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// readLimited reads a body of at most MaxPayload bytes; tooLarge reports a
// longer one (the rest is not read).
func readLimited(r io.Reader) (body []byte, tooLarge bool, err error) {
	body, err = io.ReadAll(io.LimitReader(r, MaxPayload+1))
	if err != nil {
		return nil, false, err
	}
	if len(body) > MaxPayload {
		return nil, true, nil
	}
	return body, false, nil
}

func runtimeError(rw http.ResponseWriter, status int, typ, msg string) {
	rw.Header()["Content-Type"] = hdrJSON
	rw.WriteHeader(status)
	_, _ = rw.Write(errorDoc(typ, msg))
}
