package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
)

// TestUnavailableIsRetryable: an error that wraps store.ErrUnavailable,
// however deep, answers Lattice's InternalServerException (500, with
// Retry-After, which the SDKs retry) with a message that names nothing of
// the store's internals; other errors keep their mapping.
func TestUnavailableIsRetryable(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	inner := fmt.Errorf("etcd http://10.0.0.1:2379: %w: %w", store.ErrUnavailable, context.DeadlineExceeded)
	for _, err := range []error{inner, fmt.Errorf("create service: %w", inner),
		errors.Join(&model.Error{Kind: model.KindConflict, Message: "x"}, inner)} {
		we := toWireError(context.Background(), log, err)
		if we.Status != http.StatusInternalServerError || we.Type != "InternalServerException" || we.Body["message"] != UnavailableMessage {
			t.Errorf("%v: %+v", err, we)
		}
		rec := httptest.NewRecorder()
		writeError(rec, we)
		if rec.Header().Get("Retry-After") != "1" || strings.Contains(rec.Body.String(), "etcd") ||
			strings.Contains(rec.Body.String(), "deadline") {
			t.Errorf("%v: answered %v %s", err, rec.Header(), rec.Body)
		}
	}
	if we := toWireError(context.Background(), log, errors.New("disk on fire")); we.Body["message"] == UnavailableMessage {
		t.Errorf("an internal error answered as the store being away: %+v", we)
	}
	if we := toWireError(context.Background(), log, model.NotFound(model.TypeService, "svc-1")); we.Status != http.StatusNotFound {
		t.Errorf("NotFound: %+v", we)
	}
}
