// Command gen writes the smithy-*.txt SigV4A fixtures in its parent
// directory: requests signed by the public SigV4A signer of
// github.com/aws/smithy-go/aws-http-auth, the ground truth the verifier's
// tests check against. ECDSA signatures are randomised, so each run writes
// different (equally valid) signatures.
//
// It is a module of its own so that the signer stays out of Trellis's
// go.mod. Run it from this directory: go run .
package main

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/aws/smithy-go/aws-http-auth/credentials"
	"github.com/aws/smithy-go/aws-http-auth/sigv4a"
	v4 "github.com/aws/smithy-go/aws-http-auth/v4"
)

// The credentials, time and host of the package's tests (helpers_test.go).
var (
	longTerm = credentials.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE",
		SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	temporary = credentials.Credentials{AccessKeyID: "ASIAIOSFODNN7EXAMPLE",
		SecretAccessKey: "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
		SessionToken:    "FwoGZXIvYXdzEXAMPLE//////////wEaDEXAMPLETOKENtrellis+sigv4/session=="}
	signTime = time.Date(2026, 1, 1, 0, 10, 0, 0, time.UTC)
)

const host = "svc-0123456789abcdef0.7d67968.vpc-lattice-svcs.us-east-1.on.aws"

type fixture struct {
	name      string
	desc      string
	method    string
	target    string
	body      string
	header    map[string]string
	creds     credentials.Credentials
	regionSet []string
	presign   bool
	unsigned  bool // sign UNSIGNED-PAYLOAD (else the SHA-256 of body)
	hashHdr   bool // send x-amz-content-sha256 (signed, as an x-amz-* header)
}

var fixtures = []fixture{
	{name: "smithy-get-unsigned-star", desc: "GET, UNSIGNED-PAYLOAD, region set *",
		method: "GET", target: "/orders/42?expand=items&b=2", creds: longTerm,
		regionSet: []string{"*"}, unsigned: true, hashHdr: true},
	{name: "smithy-post-token-us-wildcard", desc: "POST with a body, session token, UNSIGNED-PAYLOAD, region set us-*",
		method: "POST", target: "/orders", body: `{"id":7}`, header: map[string]string{"Content-Type": "application/json"},
		creds: temporary, regionSet: []string{"us-*"}, unsigned: true, hashHdr: true},
	{name: "smithy-get-region-list", desc: "GET, empty-body payload hash, region set eu-west-1,us-east-1",
		method: "GET", target: "/tags/arn%3Aaws%3Avpc-lattice%3Aus-east-1%3A123456789012%3Aservice%2Fsvc-0123456789abcdef0",
		creds: longTerm, regionSet: []string{"eu-west-1", "us-east-1"}, hashHdr: true},
	{name: "smithy-presigned-star", desc: "presigned GET, UNSIGNED-PAYLOAD, region set *, X-Amz-Expires=300",
		method: "GET", target: "/reports?X-Amz-Expires=300&day=2026-01-01", creds: longTerm,
		regionSet: []string{"*"}, presign: true, unsigned: true},
	{name: "smithy-presigned-token", desc: "presigned GET with a session token, region set us-east-1",
		method: "GET", target: "/reports/7", creds: temporary,
		regionSet: []string{"us-east-1"}, presign: true, unsigned: true},
	{name: "smithy-get-query-reserved", desc: "GET, reserved characters and repeated keys in the query, region set *",
		method: "GET", target: "/s?tag=b&filter=a%2Bb%26c%3Dd&tag=a&empty=&sp=a%20b", creds: longTerm,
		regionSet: []string{"*"}, unsigned: true, hashHdr: true},
	{name: "smithy-put-payload-hash", desc: "PUT with a signed payload hash, session token, region set us-east-1,us-west-2",
		method: "PUT", target: "/objects/a%2Fb", body: "hello, lattice", header: map[string]string{"X-Amz-Meta-Owner": "team a"},
		creds: temporary, regionSet: []string{"us-east-1", "us-west-2"}, hashHdr: true},
	{name: "smithy-presigned-region-list", desc: "presigned GET, region set eu-*,us-*",
		method: "GET", target: "/reports?X-Amz-Expires=60", creds: longTerm,
		regionSet: []string{"eu-*", "us-*"}, presign: true, unsigned: true},
}

func main() {
	for _, f := range fixtures {
		if err := write(f); err != nil {
			fmt.Fprintln(os.Stderr, f.name+":", err)
			os.Exit(1)
		}
	}
}

func write(f fixture) error {
	var body *strings.Reader
	if f.body != "" {
		body = strings.NewReader(f.body)
	}
	var req *http.Request
	var err error
	if body != nil {
		req, err = http.NewRequest(f.method, "https://"+host+f.target, body)
	} else {
		req, err = http.NewRequest(f.method, "https://"+host+f.target, nil)
	}
	if err != nil {
		return err
	}
	for k, v := range f.header {
		req.Header.Set(k, v)
	}
	in := &sigv4a.SignRequestInput{
		Request:     req,
		Credentials: f.creds,
		Service:     "vpc-lattice-svcs",
		RegionSet:   f.regionSet,
		Time:        signTime,
	}
	if f.unsigned {
		in.PayloadHash = v4.UnsignedPayload()
	} else {
		sum := sha256.Sum256([]byte(f.body))
		in.PayloadHash = sum[:]
	}
	if f.presign {
		in.SignatureType = v4.SignatureTypeQueryString
	}
	opts := func(o *v4.SignerOptions) {
		o.DisableImplicitPayloadHashing = true
		o.AddPayloadHashHeader = f.hashHdr
	}
	if err := sigv4a.New().SignRequest(in, opts); err != nil {
		return err
	}

	var b strings.Builder
	fmt.Fprintf(&b, "Generated by testdata/sigv4a/gen with github.com/aws/smithy-go/aws-http-auth v1.1.3 sigv4a.Signer: %s.\n", f.desc)
	b.WriteString("-- options --\n")
	if f.presign {
		b.WriteString("presigned ")
	}
	if f.creds.SessionToken != "" {
		b.WriteString("token ")
	}
	fmt.Fprintf(&b, "region-set=%s\n", strings.Join(f.regionSet, ","))
	b.WriteString("-- request --\n")
	fmt.Fprintf(&b, "%s %s HTTP/1.1\n", req.Method, req.URL.RequestURI())
	fmt.Fprintf(&b, "Host:%s\n", req.Host)
	keys := make([]string, 0, len(req.Header))
	for k := range req.Header {
		if k != "Host" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range req.Header[k] {
			fmt.Fprintf(&b, "%s:%s\n", k, v)
		}
	}
	b.WriteString("\n" + f.body)
	return os.WriteFile(filepath.Join("..", f.name+".txt"), []byte(b.String()), 0o644)
}
