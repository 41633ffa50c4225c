package functions

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/model"
)

const testAccount = "111122223333"

// fnBinary is the aws-lambda-go function of testdata/fn, built once.
var fnBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "trellis-functions-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fnBinary = filepath.Join(dir, "bootstrap")
	out, err := exec.Command("go", "build", "-o", fnBinary, "./testdata/fn").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building the test function: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// source is an in-memory Source: the declarations the service would store.
type source struct {
	mu  sync.Mutex
	fns map[string]*model.Function
}

func (s *source) LookupFunction(_ context.Context, arn string) (*model.Function, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fns[arn], nil
}

func (s *source) put(f *model.Function) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fns[f.ARN] = f
}

func (s *source) remove(arn string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.fns, arn)
}

var revision int

func newFunction(name string, mod func(*model.Function)) *model.Function {
	revision++
	f := &model.Function{Name: name, Account: testAccount, ARN: model.FunctionARN("aws", "us-east-1", testAccount, name),
		Command: []string{fnBinary}, MemorySize: 128, TimeoutSeconds: 3, MaxConcurrency: 10,
		RevisionID: fmt.Sprint("rev-", revision)}
	if mod != nil {
		mod(f)
	}
	return f
}

func newHost(t *testing.T, mod func(*Config)) (*Host, *source) {
	t.Helper()
	src := &source{fns: map[string]*model.Function{}}
	cfg := Config{Source: src, Dir: t.TempDir(), Region: "us-east-1", DefaultAccount: testAccount}
	if mod != nil {
		mod(&cfg)
	}
	h := New(cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h, src
}

type answer struct {
	PID         int               `json:"pid"`
	Data        string            `json:"data"`
	RequestID   string            `json:"requestId"`
	FunctionArn string            `json:"functionArn"`
	DeadlineMs  int64             `json:"deadlineMs"`
	Env         map[string]string `json:"env"`
	Wd          string            `json:"wd"`
	ChildPID    int               `json:"childPid"`
}

type errDoc struct {
	ErrorType    string `json:"errorType"`
	ErrorMessage string `json:"errorMessage"`
}

func invoke(t *testing.T, h *Host, fn string, ev map[string]any) (Result, error) {
	t.Helper()
	b, _ := json.Marshal(ev)
	return h.Invoke(context.Background(), fn, b)
}

func answerOf(t *testing.T, h *Host, fn string, ev map[string]any) answer {
	t.Helper()
	res, err := invoke(t, h, fn, ev)
	return mustAnswer(t, res, err)
}

func mustAnswer(t *testing.T, res Result, err error) answer {
	t.Helper()
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if res.FunctionError != "" {
		t.Fatalf("function error %s: %s", res.FunctionError, res.Payload)
	}
	var a answer
	if err := json.Unmarshal(res.Payload, &a); err != nil {
		t.Fatalf("payload %q: %v", res.Payload, err)
	}
	return a
}

func mustError(t *testing.T, res Result) errDoc {
	t.Helper()
	if res.FunctionError != FunctionErrorUnhandled {
		t.Fatalf("FunctionError = %q, want Unhandled (payload %s)", res.FunctionError, res.Payload)
	}
	var d errDoc
	if err := json.Unmarshal(res.Payload, &d); err != nil {
		t.Fatalf("error payload %q: %v", res.Payload, err)
	}
	return d
}

// alive reports whether pid is a running process (a zombie is not).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func waitDead(t *testing.T, pids ...int) {
	t.Helper()
	end := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(end) {
				t.Fatalf("process %d still runs", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func TestColdAndWarmStart(t *testing.T) {
	h, src := newHost(t, nil)
	f := newFunction("hello", nil)
	src.put(f)
	before := time.Now()
	cold := answerOf(t, h, "hello", map[string]any{"action": "echo", "data": "one"})
	warm := answerOf(t, h, f.ARN, map[string]any{"action": "echo", "data": "two"})
	if cold.Data != "one" || warm.Data != "two" {
		t.Fatalf("data %q %q", cold.Data, warm.Data)
	}
	if cold.PID == 0 || warm.PID != cold.PID {
		t.Fatalf("warm invocation ran in process %d, cold in %d: want the same worker", warm.PID, cold.PID)
	}
	if cold.RequestID == warm.RequestID || len(cold.RequestID) != 36 {
		t.Fatalf("request IDs %q %q", cold.RequestID, warm.RequestID)
	}
	if cold.FunctionArn != f.ARN {
		t.Fatalf("invoked function ARN %q, want %q", cold.FunctionArn, f.ARN)
	}
	// The deadline is the function's timeout from when the worker took it.
	if d := time.UnixMilli(cold.DeadlineMs).Sub(before); d < 2*time.Second || d > 4*time.Second {
		t.Fatalf("deadline %v after the invocation, want about 3s", d)
	}
	if got := h.Workers(f.ARN); len(got) != 1 || got[0] != cold.PID {
		t.Fatalf("Workers = %v, want [%d]", got, cold.PID)
	}
	// A partial ARN names it too; another account's does not.
	answerOf(t, h, testAccount+":function:hello", map[string]any{})
	answerOf(t, h, "hello:$LATEST", map[string]any{})
	for _, id := range []string{"444455556666:function:hello", "nothere", "hello:3", "arn:aws:lambda:eu-west-1:" + testAccount + ":function:hello", "bad name"} {
		if _, err := invoke(t, h, id, map[string]any{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Invoke(%q) = %v, want ErrNotFound", id, err)
		}
	}
}

func TestWorkerEnvironment(t *testing.T) {
	t.Setenv("TRELLIS_ROOT_SECRET_ACCESS_KEY", "must-not-leak")
	h, src := newHost(t, nil)
	f := newFunction("envfn", func(f *model.Function) {
		f.Environment = map[string]string{"GREETING": "hi", "TZ": "Europe/Paris"}
		f.MemorySize = 256
		f.Handler = "my.handler"
	})
	src.put(f)
	a := answerOf(t, h, "envfn", map[string]any{"action": "env"})
	want := map[string]string{
		"GREETING": "hi", "TZ": "Europe/Paris", "AWS_LAMBDA_FUNCTION_NAME": "envfn", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "_HANDLER": "my.handler", "AWS_REGION": "us-east-1",
		"AWS_DEFAULT_REGION": "us-east-1", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/envfn",
		"LAMBDA_TASK_ROOT": filepath.Dir(fnBinary), "LAMBDA_RUNTIME_DIR": filepath.Dir(fnBinary),
	}
	for k, v := range want {
		if a.Env[k] != v {
			t.Errorf("%s = %q, want %q", k, a.Env[k], v)
		}
	}
	if !strings.HasPrefix(a.Env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:") || a.Env["AWS_LAMBDA_LOG_STREAM_NAME"] == "" {
		t.Errorf("runtime API %q, log stream %q", a.Env["AWS_LAMBDA_RUNTIME_API"], a.Env["AWS_LAMBDA_LOG_STREAM_NAME"])
	}
	if _, ok := a.Env["TRELLIS_ROOT_SECRET_ACCESS_KEY"]; ok {
		t.Error("Trellis's own environment reached the worker")
	}
	if a.Wd != filepath.Dir(fnBinary) {
		t.Errorf("working directory %q, want %q", a.Wd, filepath.Dir(fnBinary))
	}
}

func TestConcurrencyLimitThrottles(t *testing.T) {
	h, src := newHost(t, nil)
	f := newFunction("busy", func(f *model.Function) { f.MaxConcurrency = 2 })
	src.put(f)
	var wg sync.WaitGroup
	pids := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, _ := json.Marshal(map[string]any{"action": "sleep", "ms": 1500})
			res, err := h.Invoke(context.Background(), "busy", b)
			if err == nil && res.FunctionError == "" {
				var a answer
				_ = json.Unmarshal(res.Payload, &a)
				pids[i] = a.PID
			}
		}()
	}
	// Wait until both run, then a third is refused at once.
	end := time.Now().Add(10 * time.Second)
	for len(h.Workers(f.ARN)) < 2 && time.Now().Before(end) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := invoke(t, h, "busy", map[string]any{}); !errors.Is(err, ErrThrottled) {
		t.Fatalf("third concurrent invocation: %v, want ErrThrottled", err)
	}
	wg.Wait()
	if pids[0] == 0 || pids[1] == 0 || pids[0] == pids[1] {
		t.Fatalf("two concurrent invocations ran in %v: want two workers", pids)
	}
	// Slots free again: served by one of the warm workers.
	a := answerOf(t, h, "busy", map[string]any{})
	if a.PID != pids[0] && a.PID != pids[1] {
		t.Fatalf("after the burst a new worker %d started; warm ones were %v", a.PID, pids)
	}
}

func TestTimeoutKillsWorker(t *testing.T) {
	h, src := newHost(t, nil)
	f := newFunction("slow", func(f *model.Function) { f.TimeoutSeconds = 1 })
	src.put(f)
	first := answerOf(t, h, "slow", map[string]any{})
	res, err := invoke(t, h, "slow", map[string]any{"action": "child", "ms": 5000})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	d := mustError(t, res)
	if d.ErrorType != "Sandbox.Timedout" || !strings.HasSuffix(d.ErrorMessage, "Task timed out after 1.00 seconds") {
		t.Fatalf("timeout document %+v", d)
	}
	waitDead(t, first.PID)
	next := answerOf(t, h, "slow", map[string]any{})
	if next.PID == first.PID {
		t.Fatal("the timed-out worker was used again")
	}
}

func TestTimeoutKillsChildren(t *testing.T) {
	h, src := newHost(t, nil)
	f := newFunction("parent", func(f *model.Function) { f.TimeoutSeconds = 2 })
	src.put(f)
	// The first call starts a child and answers; the worker keeps it.
	a := answerOf(t, h, "parent", map[string]any{"action": "child", "ms": 10})
	if a.ChildPID == 0 || !alive(a.ChildPID) {
		t.Fatalf("child %d not running", a.ChildPID)
	}
	if _, err := invoke(t, h, "parent", map[string]any{"action": "sleep", "ms": 5000}); !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	waitDead(t, a.PID, a.ChildPID)
}

func TestCrashIsIsolated(t *testing.T) {
	h, src := newHost(t, nil)
	f := newFunction("crashy", nil)
	src.put(f)
	a := answerOf(t, h, "crashy", map[string]any{})
	res, err := invoke(t, h, "crashy", map[string]any{"action": "exit"})
	if err != nil {
		t.Fatal(err)
	}
	d := mustError(t, res)
	if d.ErrorType != "Runtime.ExitError" || !strings.Contains(d.ErrorMessage, "Runtime exited with error: exit status 3") {
		t.Fatalf("crash document %+v", d)
	}
	waitDead(t, a.PID)
	b := answerOf(t, h, "crashy", map[string]any{})
	if b.PID == a.PID {
		t.Fatal("the crashed worker was used again")
	}
}

func TestFunctionErrorAndPanic(t *testing.T) {
	h, src := newHost(t, nil)
	src.put(newFunction("failing", nil))
	res, err := invoke(t, h, "failing", map[string]any{"action": "error", "text": "disk full"})
	if err != nil {
		t.Fatal(err)
	}
	if d := mustError(t, res); d.ErrorType != "errorString" || d.ErrorMessage != "something broke: disk full" {
		t.Fatalf("error document %+v", d)
	}
	res, err = invoke(t, h, "failing", map[string]any{"action": "panic"})
	if err != nil {
		t.Fatal(err)
	}
	if d := mustError(t, res); !strings.Contains(d.ErrorMessage, "boom") {
		t.Fatalf("panic document %+v", d)
	}
	answerOf(t, h, "failing", map[string]any{})
}

func TestInitErrors(t *testing.T) {
	h, src := newHost(t, nil)
	src.put(newFunction("initfail", func(f *model.Function) { f.Environment = map[string]string{"FN_INIT_FAIL": "1"} }))
	src.put(newFunction("exitstart", func(f *model.Function) { f.Environment = map[string]string{"FN_EXIT_AT_START": "1"} }))
	src.put(newFunction("missing", func(f *model.Function) { f.Command = []string{"/nonexistent/bootstrap"} }))
	for _, tc := range []struct{ fn, typ, msg string }{
		{"initfail", "InitFailed", "cannot open the config"},
		{"exitstart", "Runtime.ExitError", "exit status 7"},
		{"missing", "Runtime.InvalidEntrypoint", "no such file"},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			res, err := invoke(t, h, tc.fn, map[string]any{})
			if err != nil {
				t.Fatal(err)
			}
			d := mustError(t, res)
			if d.ErrorType != tc.typ || !strings.Contains(d.ErrorMessage, tc.msg) {
				t.Fatalf("document %+v, want %s with %q", d, tc.typ, tc.msg)
			}
		})
	}
}

func TestPayloadLimits(t *testing.T) {
	h, src := newHost(t, nil)
	src.put(newFunction("large", func(f *model.Function) { f.TimeoutSeconds = 30 }))
	// Near the limit both ways.
	data := strings.Repeat("a", MaxPayload-1024)
	a := answerOf(t, h, "large", map[string]any{"action": "echo", "data": data})
	if a.Data != data {
		t.Fatalf("echoed %d bytes, sent %d", len(a.Data), len(data))
	}
	// Over the limit in: refused before any worker sees it.
	over := bytes.Repeat([]byte(" "), MaxPayload+1)
	if _, err := h.Invoke(context.Background(), "large", over); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("request of %d bytes: %v, want ErrTooLarge", len(over), err)
	}
	// Over the limit out: a function error.
	res, err := invoke(t, h, "large", map[string]any{"action": "big", "size": MaxPayload + 10})
	if err != nil {
		t.Fatal(err)
	}
	if d := mustError(t, res); d.ErrorType != "Function.ResponseSizeTooLarge" {
		t.Fatalf("document %+v", d)
	}
	answerOf(t, h, "large", map[string]any{})
}

func TestLogFile(t *testing.T) {
	h, src := newHost(t, nil)
	f := newFunction("logger", nil)
	src.put(f)
	a := answerOf(t, h, "logger", map[string]any{"action": "print", "text": "hello from the function"})
	tail := string(h.LogTail(f.ARN))
	for _, want := range []string{"START RequestId: " + a.RequestID, "hello from the function"} {
		if !strings.Contains(tail, want) {
			t.Errorf("log tail lacks %q:\n%s", want, tail)
		}
	}
	path, _ := h.LogPath(testAccount, "logger")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "END RequestId: "+a.RequestID) || !strings.Contains(string(b), "REPORT RequestId: "+a.RequestID) {
		t.Errorf("log file lacks END/REPORT:\n%s", b)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v, want 0600", st.Mode().Perm())
	}
	if _, err := h.LogPath(testAccount, "../escape"); err == nil {
		t.Error("a name with a path escape got a log path")
	}
}

func TestLogRotation(t *testing.T) {
	h, src := newHost(t, func(c *Config) { c.LogMaxBytes = 4096 })
	f := newFunction("chatty", nil)
	src.put(f)
	for i := range 10 {
		answerOf(t, h, "chatty", map[string]any{"action": "print", "text": fmt.Sprint(i, strings.Repeat("z", 1000))})
	}
	h.LogTail(f.ARN) // drained
	path, _ := h.LogPath(testAccount, "chatty")
	for _, p := range []string{path, path + ".1"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > 4096 {
			t.Errorf("%s is %d bytes, over the cap", p, st.Size())
		}
	}
}

func TestForgetStopsWorkers(t *testing.T) {
	h, src := newHost(t, nil)
	f := newFunction("gone", nil)
	src.put(f)
	a := answerOf(t, h, "gone", map[string]any{"action": "child", "ms": 10})
	src.remove(f.ARN)
	h.Forget(f.ARN)
	waitDead(t, a.PID, a.ChildPID)
	if _, err := invoke(t, h, "gone", map[string]any{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v, want ErrNotFound", err)
	}
}

func TestSyncRetiresChanged(t *testing.T) {
	h, src := newHost(t, nil)
	f := newFunction("versioned", nil)
	src.put(f)
	a := answerOf(t, h, "versioned", map[string]any{})
	g := *f
	g.RevisionID = "rev-next"
	g.Environment = map[string]string{"GREETING": "new"}
	src.put(&g)
	if err := h.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitDead(t, a.PID)
	b := answerOf(t, h, "versioned", map[string]any{"action": "env"})
	if b.PID == a.PID || b.Env["GREETING"] != "new" {
		t.Fatalf("after the update: pid %d (old %d), GREETING %q", b.PID, a.PID, b.Env["GREETING"])
	}
	// A new revision handed in directly (the API's path) retires too.
	c := g
	c.RevisionID = "rev-third"
	if _, err := h.InvokeFunction(context.Background(), &c, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	waitDead(t, b.PID)
	// Deleted from the source: Sync stops it.
	pids := h.Workers(f.ARN)
	src.remove(f.ARN)
	if err := h.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitDead(t, pids...)
}

func TestIdleWorkersStop(t *testing.T) {
	h, src := newHost(t, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	src.put(newFunction("idle", nil))
	a := answerOf(t, h, "idle", map[string]any{})
	waitDead(t, a.PID)
	b := answerOf(t, h, "idle", map[string]any{})
	if b.PID == a.PID {
		t.Fatal("an idle-stopped worker answered")
	}
}

func TestCallerLeavesInvocationRunsOn(t *testing.T) {
	h, src := newHost(t, nil)
	f := newFunction("leaver", func(f *model.Function) { f.MaxConcurrency = 1 })
	src.put(f)
	answerOf(t, h, "leaver", map[string]any{})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := h.Invoke(ctx, "leaver", []byte(`{"action":"sleep","ms":1500}`)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's", err)
	}
	// Still running: its slot is taken.
	if _, err := invoke(t, h, "leaver", map[string]any{}); !errors.Is(err, ErrThrottled) {
		t.Fatalf("while the abandoned invocation runs: %v, want ErrThrottled", err)
	}
	// Then it ends, and its worker serves again.
	end := time.Now().Add(10 * time.Second)
	for {
		res, err := invoke(t, h, "leaver", map[string]any{})
		if err == nil {
			mustAnswer(t, res, err)
			break
		}
		if !errors.Is(err, ErrThrottled) || time.Now().After(end) {
			t.Fatalf("after the abandoned invocation: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestCloseStopsEverything(t *testing.T) {
	src := &source{fns: map[string]*model.Function{}}
	h := New(Config{Source: src, Dir: t.TempDir(), Region: "us-east-1", DefaultAccount: testAccount})
	src.put(newFunction("a", nil))
	src.put(newFunction("b", nil))
	pa := answerOf(t, h, "a", map[string]any{"action": "child", "ms": 10})
	pb := answerOf(t, h, "b", map[string]any{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Close waited for the workers: they are gone already.
	for _, pid := range []int{pa.PID, pb.PID} {
		if alive(pid) {
			t.Errorf("worker %d outlived Close", pid)
		}
	}
	waitDead(t, pa.ChildPID)
	if _, err := invoke(t, h, "a", map[string]any{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestAsyncInvocation(t *testing.T) {
	h, src := newHost(t, nil)
	f := newFunction("async", nil)
	src.put(f)
	if err := h.InvokeAsync(f, []byte(`{"action":"print","text":"async ran"}`)); err != nil {
		t.Fatal(err)
	}
	path, _ := h.LogPath(testAccount, "async")
	end := time.Now().Add(10 * time.Second)
	for {
		h.LogTail(f.ARN)
		if b, _ := os.ReadFile(path); bytes.Contains(b, []byte("async ran")) {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the asynchronous invocation did not run")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTraceID(t *testing.T) {
	id := newRequestID()
	got := traceID(time.Unix(0x5f000000, 0), id)
	want := "Root=1-5f000000-" + strings.ReplaceAll(id, "-", "")[:24] + ";Sampled=0"
	if got != want {
		t.Fatalf("traceID = %q, want %q", got, want)
	}
}

// Invocations racing with Forget and Sync (PUTs and DELETEs elsewhere) all
// succeed: a retired pool's busy workers finish what they took.
func TestConcurrentInvokeAndForget(t *testing.T) {
	h, src := newHost(t, nil)
	f := newFunction("racy", func(f *model.Function) { f.MaxConcurrency = 100 })
	src.put(f)
	stop := make(chan struct{})
	var churn sync.WaitGroup
	churn.Add(1)
	go func() {
		defer churn.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			h.Forget(f.ARN)
			_ = h.Sync(context.Background())
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				res, err := h.Invoke(context.Background(), "racy", []byte(fmt.Sprintf(`{"action":"echo","data":"%d"}`, i)))
				if err != nil || res.FunctionError != "" {
					errs <- fmt.Errorf("invocation %d: %v %s", i, err, res.Payload)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	churn.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A worker's Runtime API knows only that worker's current invocation.
func TestRuntimeAPIRefusesOtherRequestIDs(t *testing.T) {
	h, src := newHost(t, nil)
	src.put(newFunction("own", nil))
	a := answerOf(t, h, "own", map[string]any{"action": "env"})
	api := a.Env["AWS_LAMBDA_RUNTIME_API"]
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"POST", "/2018-06-01/runtime/invocation/" + a.RequestID + "/response", 400}, // answered already
		{"POST", "/2018-06-01/runtime/invocation/" + newRequestID() + "/response", 400},
		{"POST", "/2018-06-01/runtime/invocation/" + newRequestID() + "/error", 400},
		{"POST", "/2018-06-01/runtime/invocation/x/other", 404},
		{"POST", "/2020-01-01/extension/register", 404},
	} {
		req, _ := http.NewRequest(tc.method, "http://"+api+tc.path, strings.NewReader(`{}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
		}
	}
	// The worker is unharmed.
	if b := answerOf(t, h, "own", map[string]any{}); b.PID != a.PID {
		t.Fatalf("worker %d replaced by %d", a.PID, b.PID)
	}
}

// Invoke does not keep the caller's payload after it returns, even when
// the caller leaves early and the invocation runs on (the data plane reuses
// its buffers): the function still gets the event as sent.
func TestPayloadNotKeptAfterReturn(t *testing.T) {
	h, src := newHost(t, nil)
	f := newFunction("reuse", nil)
	src.put(f)
	for i, wait := range []time.Duration{0, time.Millisecond, 5 * time.Millisecond, 50 * time.Millisecond} {
		buf := []byte(fmt.Sprintf(`{"action":"print","text":"original-%d"}`, i))
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		_, _ = h.Invoke(ctx, "reuse", buf)
		cancel()
		for j := range buf {
			buf[j] = 'X'
		}
	}
	path, _ := h.LogPath(testAccount, "reuse")
	end := time.Now().Add(10 * time.Second)
	for {
		h.LogTail(f.ARN)
		b, _ := os.ReadFile(path)
		n := 0
		for i := range 4 {
			if bytes.Contains(b, []byte(fmt.Sprintf("original-%d\n", i))) {
				n++
			}
		}
		if n == 4 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("the abandoned invocations did not all get their events:\n%s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
