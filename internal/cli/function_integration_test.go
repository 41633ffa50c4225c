package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The function commands against a real server, with a real aws-lambda-go
// function (internal/functions/testdata/fn).
func TestFunctionCommands(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bootstrap")
	if out, err := exec.Command("go", "build", "-o", bin, "../functions/testdata/fn").CombinedOutput(); err != nil {
		t.Fatalf("building the test function: %v\n%s", err, out)
	}
	c := startCLI(t)
	r := c.exec("function", "create", "hello", "--env", "GREETING=hi", "--timeout", "5", "--output", "json", "--", bin)
	if r.err != nil {
		t.Fatalf("create: %v\n%s", r.err, r.stderr)
	}
	var created map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil {
		t.Fatalf("create output %q: %v", r.stdout, err)
	}
	if created["functionArn"] != "arn:aws:lambda:"+c.srv.Region+":"+c.srv.Account+":function:hello" || created["timeoutSeconds"] != 5.0 {
		t.Fatalf("created %v", created)
	}
	r = c.exec("function", "invoke", "hello", "--payload", `{"action":"env"}`, "--log-type", "Tail")
	if r.err != nil {
		t.Fatalf("invoke: %v\n%s", r.err, r.stderr)
	}
	var a struct {
		Env map[string]string `json:"env"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &a); err != nil || a.Env["GREETING"] != "hi" {
		t.Fatalf("invoke output %q: %v", r.stdout, err)
	}
	if !strings.Contains(r.stderr, "START RequestId:") {
		t.Fatalf("no log tail on stderr: %q", r.stderr)
	}
	out := filepath.Join(t.TempDir(), "out.json")
	if r = c.exec("function", "invoke", "hello", "--payload", `{"action":"echo","data":"filed"}`, "--outfile", out); r.err != nil {
		t.Fatalf("invoke --outfile: %v", r.err)
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), "filed") {
		t.Fatalf("outfile %q", b)
	}
	r = c.exec("function", "invoke", "hello", "--payload", `{"action":"error","text":"no"}`)
	if r.err == nil || !strings.Contains(r.stdout, "something broke: no") || !strings.Contains(r.stderr, "the function failed (Unhandled)") {
		t.Fatalf("a function error: %v, stdout %q, stderr %q", r.err, r.stdout, r.stderr)
	}
	if r = c.exec("function", "list"); r.err != nil || !strings.Contains(r.stdout, "hello") {
		t.Fatalf("list: %v %q", r.err, r.stdout)
	}
	r = c.exec("function", "create", "bad", "--", "relative/bootstrap")
	if r.err == nil || !strings.Contains(r.stderr, "command[0]") {
		t.Fatalf("a relative command: %v %q", r.err, r.stderr)
	}
	if r = c.exec("function", "delete", "hello"); r.err != nil {
		t.Fatalf("delete: %v", r.err)
	}
	r = c.exec("function", "invoke", "hello")
	if r.err == nil || !strings.Contains(r.stderr, "ResourceNotFoundException") {
		t.Fatalf("invoke after delete: %v %q", r.err, r.stderr)
	}
}
