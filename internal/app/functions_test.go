package app_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/functions"
)

// The function host is one of the App's runners: a declared function
// survives a restart, and Close stops every worker.
func TestFunctionHostLifecycle(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bootstrap")
	if out, err := exec.Command("go", "build", "-o", bin, "../functions/testdata/fn").CombinedOutput(); err != nil {
		t.Fatalf("building the test function: %v\n%s", err, out)
	}
	dir := t.TempDir()
	s := apptest.StartWith(t, apptest.Options{DataDir: dir})
	body, _ := json.Marshal(map[string]any{"command": []string{bin}})
	req, _ := http.NewRequest(http.MethodPut, s.Endpoint+"/trellis/v1/functions/hello", bytes.NewReader(body))
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey},
		req, hex.EncodeToString(sum[:]), "vpc-lattice", s.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT function: %v %v", err, resp)
	}
	resp.Body.Close()
	pid := func(s *apptest.Server) int {
		c := lambda.New(lambda.Options{Region: s.Region, BaseEndpoint: aws.String(s.Endpoint), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, "")})
		out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("hello"), Payload: []byte(`{}`)})
		if err != nil || out.FunctionError != nil {
			t.Fatalf("Invoke: %v %v", err, out)
		}
		var a struct {
			PID int `json:"pid"`
		}
		_ = json.Unmarshal(out.Payload, &a)
		return a.PID
	}
	first := pid(s)
	// The host as the data plane calls it: by ARN (or name, in the default
	// account), the declaration read from the store through the service.
	h := s.App.FunctionHost()
	arn := "arn:aws:lambda:" + s.Region + ":" + s.Account + ":function:hello"
	for _, id := range []string{arn, "hello"} {
		res, err := h.Invoke(ctx, id, []byte(`{}`))
		var a struct {
			PID int `json:"pid"`
		}
		if err != nil || res.FunctionError != "" || json.Unmarshal(res.Payload, &a) != nil || a.PID != first {
			t.Fatalf("Host.Invoke(%s): %v %s, want the warm worker %d", id, err, res.Payload, first)
		}
	}
	for _, id := range []string{"arn:aws:lambda:eu-west-1:" + s.Account + ":function:hello", "arn:aws:lambda:" + s.Region + ":111122223333:function:hello"} {
		if _, err := h.Invoke(ctx, id, []byte(`{}`)); !errors.Is(err, functions.ErrNotFound) {
			t.Fatalf("Host.Invoke(%s): %v, want ErrNotFound", id, err)
		}
	}
	if err := s.App.Close(); err != nil {
		t.Fatal(err)
	}
	if running(first) {
		t.Fatalf("worker %d outlived the App's Close", first)
	}
	s2 := apptest.StartWith(t, apptest.Options{DataDir: dir})
	if second := pid(s2); second == 0 || second == first {
		t.Fatalf("after the restart: worker %d (before %d)", second, first)
	}
}

func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}
