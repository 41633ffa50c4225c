package functions

import (
	"context"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/model"
)

// The cost the host adds to a warm invocation: BenchmarkInvokeWarm goes
// through Host.Invoke (lookup, concurrency slot, dispatch, deadline, log
// lines); BenchmarkRuntimeDirect makes the same call to the same
// aws-lambda-go function through a bare Runtime API (a channel in, a
// channel out), which is what a worker costs by itself. The difference
// is the host's.

var benchPayload = []byte(`{"action":"echo","data":"hello"}`)

func BenchmarkInvokeWarm(b *testing.B) {
	src := &source{fns: map[string]*model.Function{}}
	h := New(Config{Source: src, Dir: b.TempDir(), Region: "us-east-1", DefaultAccount: testAccount})
	defer h.Close(context.Background())
	f := newFunction("bench", nil)
	src.put(f)
	ctx := context.Background()
	if _, err := h.Invoke(ctx, f.ARN, benchPayload); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := h.Invoke(ctx, f.ARN, benchPayload)
		if err != nil || res.FunctionError != "" {
			b.Fatal(err, string(res.Payload))
		}
	}
}

// bareRuntime is the least a Runtime API can be: one invocation at a
// time, no IDs, no deadlines to enforce, no logs.
type bareRuntime struct {
	next chan []byte
	resp chan []byte
}

func (rt *bareRuntime) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && r.URL.Path == pathNext:
		p := <-rt.next
		h := w.Header()
		h["Lambda-Runtime-Aws-Request-Id"] = []string{"00000000-0000-4000-8000-000000000000"}
		h["Lambda-Runtime-Deadline-Ms"] = []string{strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)}
		h["Lambda-Runtime-Invoked-Function-Arn"] = []string{"arn:aws:lambda:us-east-1:111122223333:function:bench"}
		_, _ = w.Write(p)
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/response"):
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		rt.resp <- body
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func BenchmarkRuntimeDirect(b *testing.B) {
	rt := &bareRuntime{next: make(chan []byte), resp: make(chan []byte)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: rt}
	go srv.Serve(ln)
	defer srv.Close()
	cmd := exec.Command(fnBinary)
	cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(), "AWS_LAMBDA_FUNCTION_NAME=bench"}
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { killGroup(cmd.Process.Pid); _ = cmd.Wait() }()
	rt.next <- benchPayload
	<-rt.resp
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rt.next <- benchPayload
		<-rt.resp
	}
}
