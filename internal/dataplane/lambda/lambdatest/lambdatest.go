// Package lambdatest is a real Lambda Invoke API server for tests: it
// answers POST /2015-03-31/functions/{name}/invocations by running real
// aws-lambda-go handlers (lambda.NewHandler), checks that every request is
// SigV4-signed for the signing name "lambda" with its credentials, and
// answers errors the way the Lambda API does (X-Amz-Function-Error for a
// function's error; typed exceptions in X-Amzn-Errortype otherwise).
//
// It is for tests only; nothing of Trellis imports it outside them.
package lambdatest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// MaxPayload is Lambda's request payload limit (6 MB).
const MaxPayload = 6 << 20

// Function is a function the server hosts.
type Function struct {
	// Handler runs an invocation (lambda.NewHandler of a handler func).
	Handler lambda.Handler
	// MaxConcurrency throttles invocations beyond it
	// (TooManyRequestsException); 0 is unlimited.
	MaxConcurrency int

	running atomic.Int64
}

// Server is the Invoke API on a loopback address.
type Server struct {
	*httptest.Server
	Region string
	Creds  aws.Credentials

	mu        sync.Mutex
	functions map[string]*Function
	// Invocations counts the requests that reached a function.
	Invocations atomic.Int64
	// LastPayload is the payload of the last invocation.
	lastPayload []byte
}

// NewServer starts a server that accepts requests signed with creds for
// region; it closes when the test ends.
func NewServer(t testing.TB, region string, creds aws.Credentials) *Server {
	s := &Server{Region: region, Creds: creds, functions: map[string]*Function{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Add hosts handlerFunc (anything lambda.NewHandler takes) as name.
func (s *Server) Add(name string, handlerFunc any) *Function {
	f := &Function{Handler: lambda.NewHandler(handlerFunc)}
	s.mu.Lock()
	s.functions[name] = f
	s.mu.Unlock()
	return f
}

// LastPayload returns the payload of the last invocation.
func (s *Server) LastPayload() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastPayload
}

// ARN is the function ARN of name in s's region and account.
func ARN(region, account, name string) string {
	return "arn:aws:lambda:" + region + ":" + account + ":function:" + name
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	const prefix, suffix = "/2015-03-31/functions/", "/invocations"
	path := r.URL.EscapedPath()
	if r.Method != http.MethodPost || !strings.HasPrefix(path, prefix) || !strings.HasSuffix(path, suffix) {
		apiError(w, http.StatusNotFound, "UnknownOperationException", "no such operation")
		return
	}
	name, err := url.PathUnescape(path[len(prefix) : len(path)-len(suffix)])
	if err != nil {
		apiError(w, http.StatusBadRequest, "InvalidParameterValueException", "bad function name")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxPayload+1))
	if err != nil {
		apiError(w, http.StatusBadRequest, "InvalidRequestContentException", err.Error())
		return
	}
	if len(body) > MaxPayload {
		// Before the signature, which covers the whole (unread) body.
		apiError(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException", "Request must be smaller than 6291456 bytes for the InvokeFunction operation")
		return
	}
	if msg := s.checkSignature(r, body); msg != "" {
		apiError(w, http.StatusForbidden, "InvalidSignatureException", msg)
		return
	}
	if t := r.Header.Get("X-Amz-Invocation-Type"); t != "" && t != "RequestResponse" {
		apiError(w, http.StatusBadRequest, "InvalidParameterValueException", "only RequestResponse here")
		return
	}
	// A name, a partial or a full ARN (arn:aws:lambda:R:A:function:NAME[:QUALIFIER]).
	if i := strings.Index(name, "function:"); i >= 0 {
		name = name[i+len("function:"):]
		if j := strings.IndexByte(name, ':'); j >= 0 {
			name = name[:j]
		}
	}
	s.mu.Lock()
	f := s.functions[name]
	s.mu.Unlock()
	if f == nil {
		apiError(w, http.StatusNotFound, "ResourceNotFoundException", "Function not found: "+ARN(s.Region, "000000000000", name))
		return
	}
	if n := f.running.Add(1); f.MaxConcurrency > 0 && n > int64(f.MaxConcurrency) {
		f.running.Add(-1)
		w.Header().Set("X-Amzn-Errortype", "TooManyRequestsException")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprintf(w, `{"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded","Type":"User","message":"Rate Exceeded."}`)
		return
	}
	defer f.running.Add(-1)
	s.mu.Lock()
	s.lastPayload = body
	s.mu.Unlock()
	s.Invocations.Add(1)
	out, err := f.Handler.Invoke(r.Context(), body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	if err != nil {
		// A function's error is a 200 with X-Amz-Function-Error and the
		// error document as the payload.
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
		t := reflect.TypeOf(err)
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		b, _ := json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": t.Name()})
		w.Write(b)
		return
	}
	w.Write(out)
}

// checkSignature verifies r's SigV4 signature: signing name "lambda",
// s's region and access key, and the signature recomputed with the SDK's
// own signer over the headers the request signed. It returns what is
// wrong, or "".
func (s *Server) checkSignature(r *http.Request, body []byte) string {
	auth := r.Header.Get("Authorization")
	const alg = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, alg) {
		return "not signed with SigV4"
	}
	var cred, signed, sig string
	for _, part := range strings.Split(auth[len(alg):], ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			sig = v
		}
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || scope[0] != s.Creds.AccessKeyID || scope[2] != s.Region || scope[3] != "lambda" || scope[4] != "aws4_request" {
		return "bad credential scope " + cred
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "no X-Amz-Date"
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != hash {
		return "payload hash mismatch"
	}
	c, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	c.Host = r.Host
	c.ContentLength = int64(len(body))
	for _, h := range strings.Split(signed, ";") {
		if h == "host" || h == "content-length" {
			continue
		}
		c.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), s.Creds, c, hash, "lambda", s.Region, when); err != nil {
		return err.Error()
	}
	if !strings.HasSuffix(c.Header.Get("Authorization"), "Signature="+sig) {
		return "signature mismatch"
	}
	return ""
}

// apiError answers a restJson1 error of the Lambda API.
func apiError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("X-Amzn-Errortype", typ)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"Type": "User", "message": msg})
	w.Write(b)
}
