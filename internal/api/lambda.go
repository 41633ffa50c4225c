package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/trellis-net/trellis/internal/functions"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
	"github.com/trellis-net/trellis/internal/sigv4"
)

// The Lambda API (a subset: Invoke, GetFunction, GetFunctionConfiguration,
// ListFunctions) on the API address, for hosted functions
// (docs/functions.md). Told apart from Lattice as AWS tells them apart: the
// path (/2015-03-31/functions...) and the SigV4 signing name "lambda".
// REST-JSON; errors carry their type in X-Amzn-ErrorType with
// {"Type": "User", "message"} as the body, which the lambda SDK decodes into
// its typed exceptions.

const lambdaPrefix = "/2015-03-31/functions"

// isLambda reports whether a request is for the Lambda API.
func isLambda(r *http.Request) bool {
	p := r.URL.Path
	return p == lambdaPrefix || strings.HasPrefix(p, lambdaPrefix+"/")
}

type lambdaError struct {
	Status  int
	Type    string
	Message string
	Reason  string // TooManyRequestsException
}

func writeLambdaError(w http.ResponseWriter, e lambdaError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", e.Type)
	body := obj{"Type": "User", "message": e.Message}
	if e.Status >= 500 {
		body["Type"] = "Service"
	}
	if e.Reason != "" {
		body["Reason"] = e.Reason
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(e.Status)
	_ = encodeJSON(w, body)
}

// toLambdaError maps an error to Lambda's error types.
func (s *Server) toLambdaError(ctx context.Context, err error) lambdaError {
	var se *sigv4.Error
	if errors.As(err, &se) {
		return lambdaError{Status: se.Status, Type: se.Code, Message: se.Message}
	}
	switch {
	case errors.As(err, new(lambdaRequestContentError)):
		return lambdaError{Status: http.StatusBadRequest, Type: "InvalidRequestContentException", Message: err.Error()}
	case errors.Is(err, errNoFunctionHost):
		return lambdaError{Status: http.StatusServiceUnavailable, Type: "ServiceException", Message: err.Error()}
	case errors.Is(err, functions.ErrThrottled):
		return lambdaError{Status: http.StatusTooManyRequests, Type: "TooManyRequestsException", Message: "Rate Exceeded.",
			Reason: "ReservedFunctionConcurrentInvocationLimitExceeded"}
	case errors.Is(err, functions.ErrTooLarge):
		return tooLargeError()
	case errors.Is(err, functions.ErrNotFound):
		return lambdaError{Status: http.StatusNotFound, Type: "ResourceNotFoundException", Message: "Function not found"}
	case errors.Is(err, functions.ErrClosed):
		return lambdaError{Status: http.StatusServiceUnavailable, Type: "ServiceException", Message: "the function host is shutting down"}
	}
	var e *model.Error
	if !errors.As(err, &e) {
		s.log.ErrorContext(ctx, "internal error", "err", err)
		return lambdaError{Status: http.StatusInternalServerError, Type: "ServiceException", Message: "An internal error occurred. Try again later."}
	}
	switch e.Kind {
	case model.KindValidation:
		return lambdaError{Status: http.StatusBadRequest, Type: "InvalidParameterValueException", Message: e.Message}
	case model.KindNotFound:
		return lambdaError{Status: http.StatusNotFound, Type: "ResourceNotFoundException", Message: e.Message}
	case model.KindAccessDenied:
		return lambdaError{Status: http.StatusForbidden, Type: "AccessDeniedException", Message: e.Message}
	case model.KindConflict:
		return lambdaError{Status: http.StatusConflict, Type: "ResourceConflictException", Message: e.Message}
	case model.KindThrottling:
		return lambdaError{Status: http.StatusTooManyRequests, Type: "TooManyRequestsException", Message: e.Message,
			Reason: "CallerRateLimitExceeded"}
	}
	return lambdaError{Status: http.StatusInternalServerError, Type: "ServiceException", Message: e.Message}
}

func tooLargeError() lambdaError {
	return lambdaError{Status: http.StatusRequestEntityTooLarge, Type: "RequestTooLargeException",
		Message: "Request must be smaller than " + strconv.Itoa(functions.MaxPayload) + " bytes for the InvokeFunction operation"}
}

// serveLambda authenticates (signing name lambda) and runs one Lambda
// operation. It reads the body itself: an Invoke payload may be 6 MB, more
// than the other APIs take.
func (s *Server) serveLambda(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	body, err := io.ReadAll(io.LimitReader(r.Body, functions.MaxPayload+1))
	if err != nil {
		writeLambdaError(w, lambdaError{Status: http.StatusBadRequest, Type: "InvalidRequestContentException",
			Message: "reading the request body failed"})
		return
	}
	if len(body) > functions.MaxPayload {
		writeLambdaError(w, tooLargeError())
		return
	}
	sum := sha256.Sum256(body)
	if s.lambdaVerifier == nil {
		writeLambdaError(w, lambdaError{Status: http.StatusForbidden, Type: "AccessDeniedException", Message: "no credentials are configured"})
		return
	}
	res, err := s.lambdaVerifier.Verify(ctx, r, hex.EncodeToString(sum[:]))
	if err != nil {
		writeLambdaError(w, s.toLambdaError(ctx, err))
		return
	}
	ctx = service.WithCaller(ctx, model.Caller{Account: res.Credential.Account, PrincipalARN: res.Credential.PrincipalARN})
	segs, ok := lambdaSegments(r.URL.EscapedPath())
	if !ok {
		writeLambdaError(w, lambdaError{Status: http.StatusBadRequest, Type: "InvalidParameterValueException",
			Message: "the request path is not correctly escaped"})
		return
	}
	switch {
	case len(segs) == 0 && r.Method == http.MethodGet:
		err = s.lambdaList(ctx, w, r.URL.Query())
	case len(segs) == 1 && r.Method == http.MethodGet:
		err = s.lambdaGet(ctx, w, segs[0], r.URL.Query().Get("Qualifier"), false)
	case len(segs) == 2 && segs[1] == "configuration" && r.Method == http.MethodGet:
		err = s.lambdaGet(ctx, w, segs[0], r.URL.Query().Get("Qualifier"), true)
	case len(segs) == 2 && segs[1] == "invocations" && r.Method == http.MethodPost:
		err = s.lambdaInvoke(ctx, w, r, segs[0], body)
	default:
		writeLambdaError(w, lambdaError{Status: http.StatusNotFound, Type: "UnknownOperationException",
			Message: "Trellis does not serve the Lambda operation " + r.Method + " " + clipName(r.URL.Path)})
		return
	}
	if err != nil {
		s.log.DebugContext(ctx, "lambda error", "err", err)
		writeLambdaError(w, s.toLambdaError(ctx, err))
	}
}

// lambdaSegments returns the unescaped segments after /2015-03-31/functions
// (a trailing slash, as ListFunctions sends it, names none).
func lambdaSegments(escaped string) ([]string, bool) {
	rest := strings.TrimPrefix(escaped, lambdaPrefix)
	rest = strings.TrimPrefix(rest, "/")
	if rest == "" {
		return nil, true
	}
	parts := strings.Split(rest, "/")
	for i, p := range parts {
		u, err := url.PathUnescape(p)
		if err != nil || u == "" {
			return nil, false
		}
		parts[i] = u
	}
	return parts, true
}

// lambdaTime is Lambda's LastModified: ISO 8601 with a +0000 offset.
const lambdaTime = "2006-01-02T15:04:05.000-0700"

func lambdaConfiguration(f *model.Function) obj {
	handler := f.Handler
	if handler == "" {
		handler = f.Command[0][strings.LastIndexByte(f.Command[0], '/')+1:]
	}
	o := obj{"FunctionName": f.Name, "FunctionArn": f.ARN, "Runtime": "provided.al2023", "Handler": handler,
		"CodeSize": 0, "Timeout": f.TimeoutSeconds, "MemorySize": f.MemorySize,
		"LastModified": f.UpdatedAt.UTC().Format(lambdaTime), "Version": model.FunctionVersionLatest,
		"RevisionId": f.RevisionID, "State": "Active", "LastUpdateStatus": "Successful", "PackageType": "Zip",
		"Architectures": []string{"x86_64"}}
	if f.Description != "" {
		o["Description"] = f.Description
	}
	if len(f.Environment) > 0 {
		o["Environment"] = obj{"Variables": f.Environment}
	}
	return o
}

func writeLambdaJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = encodeJSON(w, v)
}

func (s *Server) lambdaGet(ctx context.Context, w http.ResponseWriter, name, qualifier string, configOnly bool) error {
	f, err := s.svc.ResolveFunction(ctx, name, qualifier)
	if err != nil {
		return err
	}
	if configOnly {
		writeLambdaJSON(w, lambdaConfiguration(f))
		return nil
	}
	writeLambdaJSON(w, obj{"Configuration": lambdaConfiguration(f), "Code": obj{"RepositoryType": "Trellis"}})
	return nil
}

func (s *Server) lambdaList(ctx context.Context, w http.ResponseWriter, q url.Values) error {
	var p service.Page
	if m := q.Get("MaxItems"); m != "" {
		n, err := strconv.Atoi(m)
		if err != nil || n < 1 || n > 50 {
			return model.Invalid("MaxItems", "MaxItems must be an integer between 1 and 50")
		}
		p.MaxResults = n
	}
	p.NextToken = q.Get("Marker")
	items, next, err := s.svc.ListFunctions(ctx, p)
	if err != nil {
		return err
	}
	out := make([]obj, len(items))
	for i, f := range items {
		out[i] = lambdaConfiguration(f)
	}
	writeLambdaJSON(w, obj{"Functions": out}.str("NextMarker", next))
	return nil
}

// lambdaInvoke is Invoke: RequestResponse (the default) answers the
// function's payload; Event runs it in the background (202); DryRun checks
// only that it may (204).
func (s *Server) lambdaInvoke(ctx context.Context, w http.ResponseWriter, r *http.Request, name string, payload []byte) error {
	invType := r.Header.Get("X-Amz-Invocation-Type")
	switch invType {
	case "", "RequestResponse", "Event", "DryRun":
	default:
		return model.Invalid("InvocationType", "InvocationType must be RequestResponse, Event or DryRun")
	}
	logType := r.Header.Get("X-Amz-Log-Type")
	if logType != "" && logType != "None" && logType != "Tail" {
		return model.Invalid("LogType", "LogType must be None or Tail")
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	} else if !json.Valid(payload) {
		return lambdaRequestContentError{}
	}
	f, err := s.svc.ResolveFunction(ctx, name, r.URL.Query().Get("Qualifier"))
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("X-Amz-Executed-Version", model.FunctionVersionLatest)
	if invType == "DryRun" {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if s.functions == nil {
		return errNoFunctionHost
	}
	if invType == "Event" {
		if err := s.functions.InvokeAsync(f, payload); err != nil {
			return err
		}
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	res, err := s.functions.InvokeFunction(ctx, f, payload)
	if err != nil && !errors.Is(err, functions.ErrTimeout) {
		return err
	}
	h.Set("Content-Type", "application/json")
	if res.FunctionError != "" {
		h.Set("X-Amz-Function-Error", res.FunctionError)
	}
	if logType == "Tail" {
		h.Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString(s.functions.LogTail(f.ARN)))
	}
	h.Set("Content-Length", strconv.Itoa(len(res.Payload)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(res.Payload)
	return nil
}

// lambdaRequestContentError is a payload that is not JSON (Lambda:
// InvalidRequestContentException).
type lambdaRequestContentError struct{}

func (lambdaRequestContentError) Error() string { return "Could not parse request body into json" }

var errNoFunctionHost = errors.New("this Trellis node does not run functions (--function-host=false, or a node without the dataplane role)")
