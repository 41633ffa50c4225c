package api_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// Hosted functions through the native API and the Lambda API, with a real
// aws-lambda-go function (internal/functions/testdata/fn) and the AWS SDK's
// lambda client.

var (
	fnOnce   sync.Once
	fnPath   string
	fnErr    error
	fnOutput []byte
)

// functionBinary builds the test function once per test run.
func functionBinary(t *testing.T) string {
	t.Helper()
	fnOnce.Do(func() {
		dir, err := os.MkdirTemp("", "trellis-api-fn")
		if err != nil {
			fnErr = err
			return
		}
		fnPath = filepath.Join(dir, "bootstrap")
		fnOutput, fnErr = exec.Command("go", "build", "-o", fnPath, "../functions/testdata/fn").CombinedOutput()
	})
	if fnErr != nil {
		t.Fatalf("building the test function: %v\n%s", fnErr, fnOutput)
	}
	return fnPath
}

func lambdaAs(s *apptest.Server, c creds) *lambda.Client {
	return lambda.New(lambda.Options{Region: s.Region, BaseEndpoint: aws.String(s.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(c.id, c.secret, c.token), RetryMaxAttempts: 1})
}

func fnPathOf(name string) string { return "/trellis/v1/functions/" + url.PathEscape(name) }

type fnAnswer struct {
	PID         int               `json:"pid"`
	Data        string            `json:"data"`
	FunctionArn string            `json:"functionArn"`
	Env         map[string]string `json:"env"`
}

func invokeOK(t *testing.T, c *lambda.Client, name string, ev string) fnAnswer {
	t.Helper()
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(ev)})
	if err != nil {
		t.Fatalf("Invoke %s: %v", name, err)
	}
	if out.FunctionError != nil {
		t.Fatalf("Invoke %s: function error %s: %s", name, *out.FunctionError, out.Payload)
	}
	if out.StatusCode != 200 || aws.ToString(out.ExecutedVersion) != "$LATEST" {
		t.Fatalf("Invoke %s: status %d, executed version %q", name, out.StatusCode, aws.ToString(out.ExecutedVersion))
	}
	var a fnAnswer
	if err := json.Unmarshal(out.Payload, &a); err != nil {
		t.Fatalf("payload %q: %v", out.Payload, err)
	}
	return a
}

func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	end := time.Now().Add(5 * time.Second)
	for processAlive(pid) {
		if time.Now().After(end) {
			t.Fatalf("worker %d still runs", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNativeFunctions(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	root := rootCreds(s)
	bin := functionBinary(t)
	a := want(t, "create", call(t, s, root, "PUT", fnPathOf("hello"), map[string]any{"command": []string{bin}}), 201, "").obj(t)
	wantARN := "arn:aws:lambda:" + s.Region + ":" + s.Account + ":function:hello"
	if a["functionArn"] != wantARN || a["functionName"] != "hello" || a["timeoutSeconds"] != 3.0 ||
		a["maxConcurrency"] != 10.0 || a["memorySize"] != 128.0 || a["revisionId"] == "" {
		t.Fatalf("created: %v", a)
	}
	b := want(t, "replace", call(t, s, root, "PUT", fnPathOf("hello"), map[string]any{"command": []string{bin, "--flag"},
		"environment": map[string]string{"GREETING": "hi"}, "timeoutSeconds": 5, "maxConcurrency": 4, "memorySize": 256,
		"handler": "main", "description": "says hello"}), 200, "").obj(t)
	if b["revisionId"] == a["revisionId"] || b["timeoutSeconds"] != 5.0 || b["createdAt"] != a["createdAt"] {
		t.Fatalf("replaced: %v", b)
	}
	g := want(t, "get", call(t, s, root, "GET", fnPathOf("hello"), nil), 200, "").obj(t)
	if g["revisionId"] != b["revisionId"] || g["environment"].(map[string]any)["GREETING"] != "hi" {
		t.Fatalf("get: %v", g)
	}
	l := want(t, "list", call(t, s, root, "GET", "/trellis/v1/functions", nil), 200, "").obj(t)
	if items := l["items"].([]any); len(items) != 1 || items[0].(map[string]any)["functionArn"] != wantARN {
		t.Fatalf("list: %v", l)
	}

	// Bad declarations: the field is named, nothing changes.
	for _, tc := range []struct {
		name  string
		fn    string
		body  map[string]any
		field string
	}{
		{"name", "bad.name", map[string]any{"command": []string{bin}}, "functionName"},
		{"long name", strings.Repeat("a", 65), map[string]any{"command": []string{bin}}, "functionName"},
		{"no command", "hello", map[string]any{}, "command"},
		{"relative", "hello", map[string]any{"command": []string{"bootstrap"}}, "command[0]"},
		{"unclean", "hello", map[string]any{"command": []string{"/srv/../bin/sh"}}, "command[0]"},
		{"nul arg", "hello", map[string]any{"command": []string{bin, "a\x00b"}}, "command[1]"},
		{"reserved", "hello", map[string]any{"command": []string{bin}, "environment": map[string]string{"AWS_REGION": "x"}}, "environment.AWS_REGION"},
		{"reserved lambda", "hello", map[string]any{"command": []string{bin}, "environment": map[string]string{"AWS_LAMBDA_RUNTIME_API": "x"}}, "environment.AWS_LAMBDA_RUNTIME_API"},
		{"key", "hello", map[string]any{"command": []string{bin}, "environment": map[string]string{"1X": "x"}}, "environment"},
		{"nul value", "hello", map[string]any{"command": []string{bin}, "environment": map[string]string{"X": "a\x00"}}, "environment.X"},
		{"env size", "hello", map[string]any{"command": []string{bin}, "environment": map[string]string{"BIG": strings.Repeat("v", 4100)}}, "environment"},
		{"timeout 0", "hello", map[string]any{"command": []string{bin}, "timeoutSeconds": 0}, "timeoutSeconds"},
		{"timeout 901", "hello", map[string]any{"command": []string{bin}, "timeoutSeconds": 901}, "timeoutSeconds"},
		{"concurrency", "hello", map[string]any{"command": []string{bin}, "maxConcurrency": 0}, "maxConcurrency"},
		{"memory", "hello", map[string]any{"command": []string{bin}, "memorySize": 64}, "memorySize"},
		{"handler", "hello", map[string]any{"command": []string{bin}, "handler": "a\nb"}, "handler"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := want(t, tc.name, call(t, s, root, "PUT", fnPathOf(tc.fn), tc.body), 400, "ValidationException").obj(t)
			fields, _ := e["fieldList"].([]any)
			if len(fields) == 0 || fields[0].(map[string]any)["name"] != tc.field {
				t.Fatalf("fields %v, want %s", e["fieldList"], tc.field)
			}
		})
	}
	if g2 := want(t, "unchanged", call(t, s, root, "GET", fnPathOf("hello"), nil), 200, "").obj(t); g2["revisionId"] != b["revisionId"] {
		t.Fatalf("a refused PUT changed the function: %v", g2)
	}
	want(t, "delete", call(t, s, root, "DELETE", fnPathOf("hello"), nil), 204, "")
	want(t, "get deleted", call(t, s, root, "GET", fnPathOf("hello"), nil), 404, "ResourceNotFoundException")
	want(t, "delete again", call(t, s, root, "DELETE", fnPathOf("hello"), nil), 404, "ResourceNotFoundException")
}

func TestLambdaInvokeWithSDK(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	root := rootCreds(s)
	bin := functionBinary(t)
	want(t, "create", call(t, s, root, "PUT", fnPathOf("hello"), map[string]any{"command": []string{bin},
		"environment": map[string]string{"GREETING": "hi"}}), 201, "")
	want(t, "create slow", call(t, s, root, "PUT", fnPathOf("slow"), map[string]any{"command": []string{bin},
		"timeoutSeconds": 1, "maxConcurrency": 1}), 201, "")
	c := lambdaAs(s, root)
	arn := "arn:aws:lambda:" + s.Region + ":" + s.Account + ":function:hello"

	cold := invokeOK(t, c, "hello", `{"action":"echo","data":"ping"}`)
	warm := invokeOK(t, c, arn, `{"action":"env"}`)
	if cold.Data != "ping" || cold.FunctionArn != arn || warm.PID != cold.PID || warm.Env["GREETING"] != "hi" {
		t.Fatalf("cold %+v, warm pid %d env %v", cold, warm.PID, warm.Env["GREETING"])
	}
	invokeOK(t, c, s.Account+":function:hello", `{}`)
	invokeOK(t, c, "hello:$LATEST", `{}`)
	// No payload: the function gets {}.
	if out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello")}); err != nil || out.FunctionError != nil {
		t.Fatalf("Invoke without a payload: %v %v", err, out)
	}

	// Logs: the tail of this invocation's output.
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), LogType: lambdatypes.LogTypeTail,
		Payload: []byte(`{"action":"print","text":"tail me"}`)})
	if err != nil {
		t.Fatal(err)
	}
	logs, _ := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if !strings.Contains(string(logs), "tail me") || !strings.Contains(string(logs), "START RequestId:") {
		t.Fatalf("log tail %q", logs)
	}
	if b, err := os.ReadFile(filepath.Join(s.DataDir, "functions", s.Account, "hello.log")); err != nil || !strings.Contains(string(b), "tail me") {
		t.Fatalf("function log: %v %q", err, b)
	}

	// A function error.
	out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: []byte(`{"action":"error","text":"x"}`)})
	if err != nil || aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "something broke: x") {
		t.Fatalf("function error: %v %v %s", err, out.FunctionError, out.Payload)
	}
	// A timeout.
	out, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("slow"), Payload: []byte(`{"action":"sleep","ms":3000}`)})
	if err != nil || aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "Task timed out after 1.00 seconds") {
		t.Fatalf("timeout: %v %v %s", err, out.FunctionError, out.Payload)
	}
	// Event and DryRun.
	if out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), InvocationType: lambdatypes.InvocationTypeEvent,
		Payload: []byte(`{"action":"print","text":"from an event"}`)}); err != nil || out.StatusCode != 202 {
		t.Fatalf("Event: %v %v", err, out)
	}
	if out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), InvocationType: lambdatypes.InvocationTypeDryRun}); err != nil || out.StatusCode != 204 {
		t.Fatalf("DryRun: %v %v", err, out)
	}

	// Typed errors.
	var nf *lambdatypes.ResourceNotFoundException
	for _, name := range []string{"nothere", "hello:1", "arn:aws:lambda:" + s.Region + ":" + acctB + ":function:hello"} {
		if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{}`)}); !errors.As(err, &nf) {
			t.Errorf("Invoke %s: %v, want ResourceNotFoundException", name, err)
		}
	}
	var tooLarge *lambdatypes.RequestTooLargeException
	if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: []byte(`"` + strings.Repeat("a", 6<<20) + `"`)}); !errors.As(err, &tooLarge) {
		t.Errorf("a payload over 6 MB: %v, want RequestTooLargeException", err)
	}
	var badContent *lambdatypes.InvalidRequestContentException
	if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: []byte(`{not json`)}); !errors.As(err, &badContent) {
		t.Errorf("a payload that is not JSON: %v, want InvalidRequestContentException", err)
	}
	// Throttling: busy allows one at a time.
	want(t, "create busy", call(t, s, root, "PUT", fnPathOf("busy"), map[string]any{"command": []string{bin},
		"timeoutSeconds": 10, "maxConcurrency": 1}), 201, "")
	invokeOK(t, c, "busy", `{}`) // warm
	done := make(chan error, 1)
	go func() {
		_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("busy"), Payload: []byte(`{"action":"sleep","ms":3000}`)})
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	var throttled *lambdatypes.TooManyRequestsException
	deadline := time.Now().Add(2500 * time.Millisecond)
	for {
		_, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("busy"), Payload: []byte(`{}`)})
		if errors.As(err, &throttled) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no throttling while slow runs: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if throttled.Reason != lambdatypes.ThrottleReasonReservedFunctionConcurrentInvocationLimitExceeded {
		t.Errorf("throttle reason %q", throttled.Reason)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// GetFunction, ListFunctions.
	gf, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("hello")})
	if err != nil || aws.ToString(gf.Configuration.FunctionArn) != arn || aws.ToInt32(gf.Configuration.Timeout) != 3 ||
		gf.Configuration.Environment.Variables["GREETING"] != "hi" {
		t.Fatalf("GetFunction: %v %+v", err, gf)
	}
	lf, err := c.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if err != nil || len(lf.Functions) != 3 {
		t.Fatalf("ListFunctions: %v %+v", err, lf)
	}
	p1, err := c.ListFunctions(ctx, &lambda.ListFunctionsInput{MaxItems: aws.Int32(1)})
	if err != nil || len(p1.Functions) != 1 || p1.NextMarker == nil {
		t.Fatalf("ListFunctions page 1: %v %+v", err, p1)
	}
	p2, err := c.ListFunctions(ctx, &lambda.ListFunctionsInput{MaxItems: aws.Int32(1), Marker: p1.NextMarker})
	if err != nil || len(p2.Functions) != 1 || aws.ToString(p2.Functions[0].FunctionName) == aws.ToString(p1.Functions[0].FunctionName) {
		t.Fatalf("ListFunctions page 2: %v %+v", err, p2)
	}

	// Delete stops the warm worker.
	want(t, "delete", call(t, s, root, "DELETE", fnPathOf("hello"), nil), 204, "")
	waitGone(t, cold.PID)
	if _, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: []byte(`{}`)}); !errors.As(err, &nf) {
		t.Errorf("after delete: %v, want ResourceNotFoundException", err)
	}
}

// An update stops the warm workers of the previous declaration; the next
// invocation runs the new one.
func TestFunctionUpdateRestartsWorkers(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	root := rootCreds(s)
	bin := functionBinary(t)
	want(t, "create", call(t, s, root, "PUT", fnPathOf("f"), map[string]any{"command": []string{bin},
		"environment": map[string]string{"GREETING": "old"}}), 201, "")
	c := lambdaAs(s, root)
	a := invokeOK(t, c, "f", `{"action":"env"}`)
	want(t, "update", call(t, s, root, "PUT", fnPathOf("f"), map[string]any{"command": []string{bin},
		"environment": map[string]string{"GREETING": "new"}}), 200, "")
	waitGone(t, a.PID)
	b := invokeOK(t, c, "f", `{"action":"env"}`)
	if b.PID == a.PID || b.Env["GREETING"] != "new" {
		t.Fatalf("after the update: pid %d (was %d), GREETING %q", b.PID, a.PID, b.Env["GREETING"])
	}
}

// An account sees and invokes only its own functions; only its root
// declares them.
func TestCrossAccountFunctions(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	admin := rootCreds(s)
	bin := functionBinary(t)
	userA := newAccountWithUser(t, s, acctA, "alice")
	want(t, "create B", call(t, s, admin, "PUT", "/trellis/v1/accounts/"+acctB, nil), 201, "")
	rk := want(t, "root key B", call(t, s, admin, "POST", "/trellis/v1/accounts/"+acctB+"/accesskeys", nil), 201, "").obj(t)
	rootB := creds{id: rk["accessKeyId"].(string), secret: rk["secretAccessKey"].(string)}
	rk = want(t, "root key A", call(t, s, admin, "POST", "/trellis/v1/accounts/"+acctA+"/accesskeys", nil), 201, "").obj(t)
	rootA := creds{id: rk["accessKeyId"].(string), secret: rk["secretAccessKey"].(string)}

	want(t, "a user may not declare", call(t, s, userA, "PUT", fnPathOf("f"), map[string]any{"command": []string{bin}}), 403, "AccessDeniedException")
	want(t, "A's root declares", call(t, s, rootA, "PUT", fnPathOf("f"), map[string]any{"command": []string{bin}}), 201, "")
	arnA := "arn:aws:lambda:" + s.Region + ":" + acctA + ":function:f"
	// A's user reads and invokes it.
	want(t, "A's user reads", call(t, s, userA, "GET", fnPathOf("f"), nil), 200, "")
	if a := invokeOK(t, lambdaAs(s, userA), arnA, `{}`); a.FunctionArn != arnA {
		t.Fatalf("invoked %s", a.FunctionArn)
	}
	want(t, "A's user may not delete", call(t, s, userA, "DELETE", fnPathOf("f"), nil), 403, "AccessDeniedException")

	// B sees nothing of it, by name or ARN, and its own f is its own.
	want(t, "B reads", call(t, s, rootB, "GET", fnPathOf("f"), nil), 404, "ResourceNotFoundException")
	want(t, "B deletes", call(t, s, rootB, "DELETE", fnPathOf("f"), nil), 404, "ResourceNotFoundException")
	if l := want(t, "B lists", call(t, s, rootB, "GET", "/trellis/v1/functions", nil), 200, "").obj(t); len(l["items"].([]any)) != 0 {
		t.Fatalf("B lists %v", l)
	}
	cb := lambdaAs(s, rootB)
	var nf *lambdatypes.ResourceNotFoundException
	for _, id := range []string{arnA, acctA + ":function:f", "f"} {
		if _, err := cb.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(id), Payload: []byte(`{}`)}); !errors.As(err, &nf) {
			t.Errorf("B invokes %s: %v, want ResourceNotFoundException", id, err)
		}
		if _, err := cb.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(id)}); !errors.As(err, &nf) {
			t.Errorf("B gets %s: %v, want ResourceNotFoundException", id, err)
		}
	}
	want(t, "B declares its own f", call(t, s, rootB, "PUT", fnPathOf("f"), map[string]any{"command": []string{bin}}), 201, "")
	if a := invokeOK(t, cb, "f", `{}`); a.FunctionArn != "arn:aws:lambda:"+s.Region+":"+acctB+":function:f" {
		t.Fatalf("B's f ran as %s", a.FunctionArn)
	}
	// A Lattice-signed request does not reach the Lambda API.
	st, _, _ := signedRequest(t, s, aws.Credentials{AccessKeyID: rootA.id, SecretAccessKey: rootA.secret}, "POST",
		"/2015-03-31/functions/f/invocations", map[string]any{}, time.Now())
	if st != 403 {
		t.Fatalf("a request signed for vpc-lattice: %d, want 403", st)
	}
}

func TestFunctionHostDisabled(t *testing.T) {
	t.Parallel()
	s := apptest.StartWith(t, apptest.Options{DisableFunctionHost: true})
	root := rootCreds(s)
	want(t, "create", call(t, s, root, "PUT", fnPathOf("f"), map[string]any{"command": []string{"/bin/true"}}), 201, "")
	var se *lambdatypes.ServiceException
	if _, err := lambdaAs(s, root).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("f"), Payload: []byte(`{}`)}); !errors.As(err, &se) {
		t.Fatalf("Invoke with the host off: %v, want ServiceException", err)
	}
}
