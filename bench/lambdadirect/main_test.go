package main

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestDrivesARealFunction builds bench/lambdafn (aws-lambda-go) and runs
// both loops against two of its workers: every invocation must come back
// as a response, none as an error or a timeout.
func TestDrivesARealFunction(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a function")
	}
	fn := filepath.Join(t.TempDir(), "lambdafn")
	if out, err := exec.Command("go", "build", "-o", fn, "../lambdafn").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	queue := make(chan *inv, 64)
	ws, err := startWorkers(fn, "", 2, queue)
	t.Cleanup(func() { stopWorkers(ws) })
	if err != nil {
		t.Fatal(err)
	}
	closed := closedLoop(queue, 4, 100*time.Millisecond, 300*time.Millisecond)
	if closed.OK == 0 || closed.Errors != 0 || closed.Latency.P50 <= 0 {
		t.Fatalf("closed loop: %+v", closed)
	}
	open := openLoop(queue, 200, 100*time.Millisecond, 300*time.Millisecond)
	if open.OK < 50 || open.Errors != 0 {
		t.Fatalf("open loop at 200/s for 300ms: %+v", open)
	}
	for _, w := range ws {
		if w.cmd.ProcessState != nil {
			t.Fatalf("worker %d exited: %v", w.cmd.Process.Pid, w.cmd.ProcessState)
		}
	}
}
