package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/sigv4"
	"github.com/trellis-net/trellis/internal/store"
)

// TestRAMGateAnswersRAMErrors: a node whose store is away answers a RAM
// client with RAM's retryable ServiceUnavailableException (503), naming
// nothing of the store.
func TestRAMGateAnswersRAMErrors(t *testing.T) {
	s := New(nil, &sigv4.Verifier{Service: "vpc-lattice"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.SetGate(func(context.Context) error { return fmt.Errorf("etcd away: %w", store.ErrUnavailable) })
	r := httptest.NewRequest("POST", "/getresourceshares", strings.NewReader(`{"resourceOwner":"SELF"}`))
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/ram/aws4_request, SignedHeaders=host, Signature=00")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, r)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("X-Amzn-ErrorType") != "ServiceUnavailableException" ||
		strings.Contains(rec.Body.String(), "etcd") {
		t.Fatalf("ram: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}

// TestRAMErrorTable pins how domain errors become RAM's exceptions.
func TestRAMErrorTable(t *testing.T) {
	s := New(nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	withReason := func(kind model.ErrorKind, reason string) error {
		return &model.Error{Kind: kind, Reason: reason, Message: "m"}
	}
	for _, tc := range []struct {
		err    error
		typ    string
		status int
	}{
		{model.Invalid("name", "bad"), "InvalidParameterException", 400},
		{withReason(model.KindValidation, model.ReasonRAMMalformedArn), "MalformedArnException", 400},
		{withReason(model.KindConflict, model.ReasonRAMAlreadyAccepted), "ResourceShareInvitationAlreadyAcceptedException", 400},
		{model.Conflict(model.TypeClientToken, "t", "reused"), "IdempotentParameterMismatchException", 400},
		{&model.Error{Kind: model.KindNotFound, Message: "m"}, "UnknownResourceException", 400},
		{&model.Error{Kind: model.KindQuota, Message: "m"}, "ResourceShareLimitExceededException", 400},
		{&model.Error{Kind: model.KindThrottling, Message: "m"}, "ThrottlingException", 429},
		{fmt.Errorf("boom"), "ServerInternalException", 500},
		{fmt.Errorf("x: %w", store.ErrUnavailable), "ServiceUnavailableException", 503},
		{errSerialization, "InvalidParameterException", 400},
	} {
		got := s.toRAMError(context.Background(), tc.err)
		if got.Type != tc.typ || got.Status != tc.status || got.Message == "" {
			t.Errorf("%v: got %+v, want %s %d", tc.err, got, tc.typ, tc.status)
		}
	}
}
