package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/sigv4"
	"github.com/trellis-net/trellis/internal/store"
)

// UnavailableMessage is the message of the InternalServerException that
// answers a call while the store cannot be reached (store.ErrUnavailable):
// a retryable error (HTTP 500 with Retry-After, which the SDKs' standard
// retryers retry), naming nothing of the store's internals. The write was
// not acknowledged; one whose outcome could not be learnt may have been
// applied, which the retry (with its client token) finds.
const UnavailableMessage = "The store is unreachable; retry."

// wireError is an AWS error as the SDKs decode it: status, the
// X-Amzn-ErrorType header, and a JSON body.
type wireError struct {
	Status int
	Type   string
	Body   obj
}

// errorTable maps each domain error kind to its AWS error type and status.
// It is the only place that does so.
var errorTable = map[model.ErrorKind]struct {
	Type   string
	Status int
}{
	model.KindValidation:     {"ValidationException", http.StatusBadRequest},
	model.KindNotFound:       {"ResourceNotFoundException", http.StatusNotFound},
	model.KindConflict:       {"ConflictException", http.StatusConflict},
	model.KindQuota:          {"ServiceQuotaExceededException", http.StatusPaymentRequired},
	model.KindAccessDenied:   {"AccessDeniedException", http.StatusForbidden},
	model.KindThrottling:     {"ThrottlingException", http.StatusTooManyRequests},
	model.KindNotImplemented: {"ValidationException", http.StatusBadRequest},
	model.KindInternal:       {"InternalServerException", http.StatusInternalServerError},
}

func toWireError(ctx context.Context, log *slog.Logger, err error) wireError {
	var se *sigv4.Error
	if errors.As(err, &se) {
		return wireError{Status: se.Status, Type: se.Code, Body: obj{"message": se.Message}}
	}
	var e *model.Error
	if errors.Is(err, store.ErrUnavailable) {
		// Before *model.Error: whatever the service made of it, the store
		// being away is what the caller must learn (and retry).
		log.WarnContext(ctx, "store unavailable: the call answers a retryable error", "err", err)
		e = &model.Error{Kind: model.KindInternal, Message: UnavailableMessage}
	} else if !errors.As(err, &e) {
		log.ErrorContext(ctx, "internal error", "err", err)
		e = &model.Error{Kind: model.KindInternal, Message: "An internal error occurred. Try again later."}
	}
	t := errorTable[e.Kind]
	body := obj{"message": e.Message}
	switch e.Kind {
	case model.KindValidation:
		body["reason"] = orStr(e.Reason, model.ReasonFieldValidationFailed)
		fields := e.Fields
		if fields == nil {
			fields = []model.FieldError{}
		}
		body["fieldList"] = fields
	case model.KindNotImplemented:
		body["reason"] = model.ReasonUnknownOperation
		body["fieldList"] = []model.FieldError{}
	case model.KindNotFound, model.KindConflict:
		body["resourceId"] = e.ResourceID
		body["resourceType"] = e.ResourceType
	case model.KindQuota:
		body["resourceType"] = e.ResourceType
		body["serviceCode"] = "vpc-lattice"
		body["quotaCode"] = e.QuotaCode
		if e.ResourceID != "" {
			body["resourceId"] = e.ResourceID
		}
	}
	return wireError{Status: t.Status, Type: t.Type, Body: body}
}

func orStr(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func writeError(w http.ResponseWriter, we wireError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", we.Type)
	if we.Status == http.StatusTooManyRequests || we.Status == http.StatusInternalServerError {
		h.Set("Retry-After", strconv.Itoa(1))
	}
	w.WriteHeader(we.Status)
	_ = encodeJSON(w, we.Body)
}
