// Command fn is the Lambda function the functions tests host: built with
// aws-lambda-go's lambda.Start, unmodified, as a user would build one.
// What it does is asked in the event.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Action string `json:"action"`
	Ms     int    `json:"ms"`
	Size   int    `json:"size"`
	Data   string `json:"data"`
	Text   string `json:"text"`
}

type answer struct {
	PID         int               `json:"pid"`
	Data        string            `json:"data,omitempty"`
	RequestID   string            `json:"requestId"`
	FunctionArn string            `json:"functionArn"`
	DeadlineMs  int64             `json:"deadlineMs"`
	Env         map[string]string `json:"env,omitempty"`
	Wd          string            `json:"wd,omitempty"`
	ChildPID    int               `json:"childPid,omitempty"`
}

func handle(ctx context.Context, e event) (answer, error) {
	lc, _ := lambdacontext.FromContext(ctx)
	dl, _ := ctx.Deadline()
	a := answer{PID: os.Getpid(), RequestID: lc.AwsRequestID, FunctionArn: lc.InvokedFunctionArn, DeadlineMs: dl.UnixMilli()}
	switch e.Action {
	case "echo":
		a.Data = e.Data
	case "big":
		a.Data = strings.Repeat("x", e.Size)
	case "sleep":
		time.Sleep(time.Duration(e.Ms) * time.Millisecond)
	case "child":
		// A child that outlives nothing: it must die with the worker.
		c := exec.Command("/bin/sleep", "300")
		if err := c.Start(); err != nil {
			return a, err
		}
		a.ChildPID = c.Process.Pid
		time.Sleep(time.Duration(e.Ms) * time.Millisecond)
	case "exit":
		fmt.Println("exiting now")
		os.Exit(3)
	case "error":
		return a, errors.New("something broke: " + e.Text)
	case "panic":
		panic("boom")
	case "print":
		fmt.Println(e.Text)
	case "env":
		a.Env = map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			a.Env[k] = v
		}
		a.Wd, _ = os.Getwd()
	}
	return a, nil
}

func main() {
	if os.Getenv("FN_INIT_FAIL") != "" {
		url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(`{"errorMessage":"cannot open the config","errorType":"InitFailed"}`)))
		req.Header.Set("Lambda-Runtime-Function-Error-Type", "InitFailed")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		os.Exit(1)
	}
	if os.Getenv("FN_EXIT_AT_START") != "" {
		os.Exit(7)
	}
	lambda.Start(handle)
}
