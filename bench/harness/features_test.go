package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestFeaturesSection(t *testing.T) {
	r := &Results{Params: Params{CapDuration: "10s", Rounds: 2, Warmup: "3s"}}
	var b bytes.Buffer
	featuresSection(&b, r)
	if !strings.Contains(b.String(), "Not measured in this run") || !strings.Contains(b.String(), "Access logs were not measured") {
		t.Fatalf("no features: %q", b.String())
	}
	r.FeatureConfigs = []FeatureConfig{{Name: plainName}, {Name: "auth on"}, {Name: "all on"}}
	r.Features = []FeatureRun{
		{plainName, CapRun{Target: plainName, ReqPerSec: 40000, Requests: 1}},
		{plainName, CapRun{Target: plainName, ReqPerSec: 42000, Requests: 1}},
		{"auth on", CapRun{Target: "auth on", ReqPerSec: 30000, Requests: 1}},
		{"auth on", CapRun{Target: "auth on", ReqPerSec: 31000, Requests: 1}},
		{"all on", CapRun{Target: "all on", Err: "boom"}},
	}
	b.Reset()
	featuresSection(&b, r)
	out := b.String()
	if !strings.Contains(out, "Access logs were not measured") {
		t.Errorf("a run without the access logs variant does not say so:\n%s", out)
	}
	// A run with it does not claim otherwise.
	r.FeatureConfigs = append(r.FeatureConfigs, FeatureConfig{Name: "access logs on", Set: featureSet{AccessLogs: true}})
	b.Reset()
	featuresSection(&b, r)
	if strings.Contains(b.String(), "Access logs were not measured") {
		t.Errorf("a run with the access logs variant says they were not measured:\n%s", b.String())
	}
	for _, want := range []string{
		"| trellis plain | 41,000 | 40,000–42,000 | 1.00 |",
		"| auth on | 30,500 | 30,000–31,000 | 0.74 |",
		"| all on (1 run(s) failed) | failed | | |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

func TestSignerAndCreds(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "credentials.json"),
		[]byte(`{"account":"111122223333","accessKeyId":"AKIDEXAMPLE","secretAccessKey":"secret"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, acct, err := readCreds(dir)
	if err != nil || acct != "111122223333" || c.AccessKeyID != "AKIDEXAMPLE" {
		t.Fatalf("readCreds: %v %q %+v", err, acct, c)
	}
	s := &signer{creds: aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}, region: "us-east-1"}
	h, err := s.sign("svc.example")
	if err != nil {
		t.Fatal(err)
	}
	auth := h.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") || !strings.Contains(auth, "/us-east-1/vpc-lattice-svcs/aws4_request") ||
		!strings.Contains(auth, "x-amz-content-sha256") || h.Get("X-Amz-Date") == "" || h.Get("X-Amz-Content-Sha256") != "UNSIGNED-PAYLOAD" {
		t.Fatalf("signature headers: %v", h)
	}
	if _, _, err := readCreds(t.TempDir()); err == nil {
		t.Fatal("readCreds of an empty dir: no error")
	}
}

func TestOTLPSink(t *testing.T) {
	s, err := startOTLPSink()
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Post("http://"+s.addr+"/v1/traces", "application/x-protobuf", strings.NewReader("\x0a\x00"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || s.received() != 1 {
		t.Fatalf("export: %d, received %d", res.StatusCode, s.received())
	}
	if res, err := http.Get("http://" + s.addr + "/v1/traces"); err != nil || res.StatusCode != 404 {
		t.Fatalf("GET: %v %v", res, err)
	}
}
