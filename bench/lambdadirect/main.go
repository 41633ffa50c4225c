// Command lambdadirect calls a Lambda function's runtime directly: it starts
// the function's worker processes itself, serves each the Lambda Runtime API
// (GET .../invocation/next, POST .../invocation/{id}/response) on a loopback
// port of its own, and hands them a fixed, pre-encoded VPC Lattice V2 event,
// either closed loop (-c invocations in flight; the most the function's
// runtime can do) or open loop at -rate per second (latency measured from
// each invocation's intended start, so a stall is not hidden). It is the
// baseline of the Lambda benchmark: the same function invoked through
// Trellis (an HTTP request, the Lattice request path, the event encoding,
// the function host) against no more than the runtime's own round trip.
//
// The result is one JSON object on standard output, with the fields of
// bench/loadgen's that the harness reads.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/trellis-net/trellis/bench/internal/hist"
	"github.com/trellis-net/trellis/bench/internal/sched"
)

// event is what every invocation carries: a V2 event for GET / as Trellis
// would encode it for the benchmark's request.
var event = []byte(`{"version":"2.0","path":"/","method":"GET","headers":{"host":["bench-svc.lattice.internal"],` +
	`"user-agent":["loadgen"],"x-forwarded-for":["127.0.0.1"],"x-forwarded-port":["8080"],"x-forwarded-proto":["http"],` +
	`"x-amzn-requestid":["3f6c2b8e-8d0a-4f51-9c7e-0d5f6a1b2c3d"]},"queryStringParameters":{},"body":"","isBase64Encoded":false,` +
	`"requestContext":{"serviceNetworkArn":"arn:aws:vpc-lattice:us-east-1:000000000000:servicenetwork/sn-0123456789abcdef0",` +
	`"serviceArn":"arn:aws:vpc-lattice:us-east-1:000000000000:service/svc-0123456789abcdef0",` +
	`"targetGroupArn":"arn:aws:vpc-lattice:us-east-1:000000000000:targetgroup/tg-0123456789abcdef0",` +
	`"identity":{"sourceVpcArn":"arn:aws:ec2:us-east-1:000000000000:vpc/vpc-0123456789abcdef0"},"region":"us-east-1","timeEpoch":"1765000000000000"}}`)

// Quantiles are latency figures in microseconds.
type Quantiles = hist.Quantiles

// Result is what a run prints.
type Result struct {
	Mode         string    `json:"mode"` // "closed" or "open"
	Workers      int       `json:"workers"`
	Concurrency  int       `json:"concurrency,omitempty"`
	Rate         float64   `json:"rate,omitempty"`
	DurationS    float64   `json:"durationSeconds"`
	OK           uint64    `json:"ok"`
	Errors       uint64    `json:"errors"`
	AchievedRate float64   `json:"achievedRate"`
	Latency      Quantiles `json:"latencyMicros"`
}

// inv is one invocation: queued, taken by a worker's next, completed by
// its response (or error) post.
type inv struct {
	id       string
	intended time.Time
	done     chan bool // true: a response; false: an error post
}

type worker struct {
	ln  net.Listener
	srv *http.Server
	cmd *exec.Cmd

	mu  sync.Mutex
	cur *inv
}

func main() {
	var (
		fn       = flag.String("fn", "", "the function's executable (an aws-lambda-go program; required)")
		workers  = flag.Int("workers", 8, "function worker processes")
		fnCPU    = flag.String("fn-cpu", "", "run the workers with taskset -c on these CPUs (default: inherit)")
		conc     = flag.Int("c", 0, "closed loop: invocations in flight (0: open loop at -rate)")
		rate     = flag.Float64("rate", 1000, "open loop: invocations per second")
		duration = flag.Duration("duration", 10*time.Second, "measured duration")
		warmup   = flag.Duration("warmup", 2*time.Second, "warm-up before measuring (not recorded)")
	)
	flag.Parse()
	// The open loop's schedule holds a thread: one more than the core the
	// tool is given (as loadgen).
	runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0)))
	if *fn == "" || *workers < 1 {
		fmt.Fprintln(os.Stderr, "lambdadirect: -fn is required and -workers must be at least 1")
		os.Exit(2)
	}
	queue := make(chan *inv, 1<<16)
	ws, err := startWorkers(*fn, *fnCPU, *workers, queue)
	defer stopWorkers(ws)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lambdadirect:", err)
		os.Exit(1)
	}
	var res Result
	if *conc > 0 {
		res = closedLoop(queue, *conc, *warmup, *duration)
	} else {
		res = openLoop(queue, *rate, *warmup, *duration)
	}
	res.Workers = *workers
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}

// startWorkers starts n workers of fn, each with a Runtime API of its own,
// and waits until every one has asked for its first invocation.
func startWorkers(fn, cpu string, n int, queue chan *inv) ([]*worker, error) {
	var ws []*worker
	var ready sync.WaitGroup
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return ws, err
		}
		w := &worker{ln: ln}
		var first sync.Once
		ready.Add(1)
		w.srv = &http.Server{Handler: w.handler(queue, func() { first.Do(ready.Done) })}
		go func() { _ = w.srv.Serve(ln) }()
		name, args := fn, []string(nil)
		if cpu != "" {
			name, args = "taskset", []string{"-c", cpu, fn}
		}
		w.cmd = exec.Command(name, args...)
		w.cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(), "AWS_LAMBDA_FUNCTION_NAME=bench",
			"AWS_LAMBDA_FUNCTION_VERSION=$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128", "_HANDLER=bench",
			"AWS_REGION=us-east-1", "TZ=:UTC", "PATH=/usr/bin:/bin"}
		w.cmd.Stdout, w.cmd.Stderr = os.Stderr, os.Stderr
		w.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := w.cmd.Start(); err != nil {
			_ = ln.Close()
			return ws, err
		}
		ws = append(ws, w)
	}
	done := make(chan struct{})
	go func() { ready.Wait(); close(done) }()
	select {
	case <-done:
		return ws, nil
	case <-time.After(20 * time.Second):
		return ws, errors.New("the workers did not ask for an invocation within 20s")
	}
}

func stopWorkers(ws []*worker) {
	for _, w := range ws {
		if w.cmd.Process != nil {
			_ = syscall.Kill(-w.cmd.Process.Pid, syscall.SIGKILL)
			_ = w.cmd.Wait()
		}
		_ = w.srv.Close()
	}
}

const prefix = "/2018-06-01/runtime/invocation/"

// handler is one worker's Runtime API: next hands out the queue's next
// invocation, response and error complete the worker's current one.
func (w *worker) handler(queue chan *inv, asked func()) http.Handler {
	deadline := strconv.FormatInt(time.Now().Add(24*time.Hour).UnixMilli(), 10)
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, prefix)
		if !ok {
			http.NotFound(rw, r)
			return
		}
		if rest == "next" && r.Method == http.MethodGet {
			asked()
			var x *inv
			select {
			case x = <-queue:
			case <-r.Context().Done():
				return
			}
			w.mu.Lock()
			w.cur = x
			w.mu.Unlock()
			h := rw.Header()
			h["Lambda-Runtime-Aws-Request-Id"] = []string{x.id}
			h["Lambda-Runtime-Deadline-Ms"] = []string{deadline}
			h["Lambda-Runtime-Invoked-Function-Arn"] = []string{"arn:aws:lambda:us-east-1:000000000000:function:bench"}
			h["Content-Type"] = []string{"application/json"}
			_, _ = rw.Write(event)
			return
		}
		id, what, _ := strings.Cut(rest, "/")
		_, _ = io.Copy(io.Discard, r.Body)
		w.mu.Lock()
		x := w.cur
		if x != nil && x.id == id {
			w.cur = nil
		} else {
			x = nil
		}
		w.mu.Unlock()
		if x == nil {
			http.Error(rw, "unknown invocation", http.StatusBadRequest)
			return
		}
		rw.WriteHeader(http.StatusAccepted)
		x.done <- what == "response"
	})
}

var ids atomic.Uint64

func newInv(intended time.Time) *inv {
	return &inv{id: strconv.FormatUint(ids.Add(1), 10), intended: intended, done: make(chan bool, 1)}
}

// closedLoop keeps c invocations in flight.
func closedLoop(queue chan *inv, c int, warmup, d time.Duration) Result {
	start := time.Now()
	measureFrom, end := start.Add(warmup), start.Add(warmup+d)
	var (
		mu       sync.Mutex
		lat      hist.Hist
		ok, errs uint64
		wg       sync.WaitGroup
	)
	for i := 0; i < c; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var h hist.Hist
			var o, e uint64
			for {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				x := newInv(t0)
				queue <- x
				good := <-x.done
				if t0.Before(measureFrom) {
					continue
				}
				if good {
					o++
					h.Record(int64(time.Since(t0)))
				} else {
					e++
				}
			}
			mu.Lock()
			lat.Merge(&h)
			ok += o
			errs += e
			mu.Unlock()
		}()
	}
	wg.Wait()
	return Result{Mode: "closed", Concurrency: c, DurationS: d.Seconds(), OK: ok, Errors: errs,
		AchievedRate: float64(ok) / d.Seconds(), Latency: lat.Micros()}
}

// openLoop starts invocations at rate per second whether or not earlier
// ones have finished; a latency counts from the intended start.
func openLoop(queue chan *inv, rate float64, warmup, d time.Duration) Result {
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	measureFrom, end := start.Add(warmup), start.Add(warmup+d)
	var (
		mu       sync.Mutex
		lat      hist.Hist
		ok, errs uint64
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithDeadline(context.Background(), end.Add(10*time.Second))
	defer cancel()
	// The schedule has an OS thread of its own (sched), so that the
	// Runtime API's goroutines run beside it.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	sched.SetTimerSlack(1)
	var w sched.Waiter
	for n := 0; ; n++ {
		at := start.Add(time.Duration(n) * interval)
		if !at.Before(end) {
			break
		}
		w.Until(at)
		x := newInv(at)
		queue <- x
		measured := !at.Before(measureFrom)
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case good := <-x.done:
				if !measured {
					return
				}
				el := time.Since(x.intended)
				mu.Lock()
				if good {
					ok++
					lat.Record(int64(el))
				} else {
					errs++
				}
				mu.Unlock()
			case <-ctx.Done():
				mu.Lock()
				errs++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return Result{Mode: "open", Rate: rate, DurationS: d.Seconds(), OK: ok, Errors: errs,
		AchievedRate: float64(ok) / d.Seconds(), Latency: lat.Micros()}
}
