package api

import (
	"net/http"
	"strings"
	"time"
)

// CallObserver sees every API call once it is answered: the operation (a
// Lattice operation name such as "CreateService", "acm:ImportCertificate",
// "lambda:Invoke", "sts:GetCallerIdentity", a native route pattern such as "PUT
// /trellis/v1/vpcs/{vpcId}", or "unknown"), the AWS error type it was
// answered with ("" on success: the X-Amzn-ErrorType of the one error table,
// errors.go), the status and how long it took. The metrics implement it;
// labels come only from the route table and the error table, never from
// what a client wrote, so their sets stay bounded.
type CallObserver func(op, errorType string, status int, d time.Duration)

// SetCallObserver installs o (nil: none). Call before serving.
func (s *Server) SetCallObserver(o CallObserver) { s.observe = o }

// callWriter notes the status of an API answer.
type callWriter struct {
	http.ResponseWriter
	status int
}

func (w *callWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *callWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *callWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observed serves r through serve and tells the observer.
func (s *Server) observed(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	cw := &callWriter{ResponseWriter: w}
	op := opUnknown
	s.serve(cw, r, &op)
	status := cw.status
	if status == 0 {
		status = http.StatusOK
	}
	errType := ""
	if status >= 300 {
		errType = cw.Header().Get("X-Amzn-ErrorType")
	}
	s.observe(op, errType, status, time.Since(start))
}

const (
	opUnknown = "unknown"
	opHealth  = "health"
)

// acmOpName is an ACM call's operation as a label: a served operation's
// name, else "unknown" (the client wrote the target).
func (s *Server) acmOpName(r *http.Request) string {
	name := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), acmTargetPrefix)
	if _, ok := s.acm[name]; ok {
		return "acm:" + name
	}
	return "acm:" + opUnknown
}
