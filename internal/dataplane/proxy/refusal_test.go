package proxy

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
)

// TestRefusalTable: every refusal has a row, an error status and a text;
// refuse answers the row as text/plain and notes its failure reason.
func TestRefusalTable(t *testing.T) {
	for ref := refNoService; int(ref) < len(refusals); ref++ {
		row := refusals[ref]
		if row.status < 400 || row.status > 599 || row.format == "" {
			t.Errorf("refusal %d: row %+v", ref, row)
		}
	}
	for _, tc := range []struct {
		name   string
		ref    refusal
		args   []any
		status int
		text   string
		reason string
	}{
		{"no service", refNoService, []any{"a.example", "vpc-1"}, 404, "Non Existent Service: no service named a.example is reachable from vpc-1\n", ""},
		{"no listener", refNoListener, []any{"orders", 8080}, 404, "Non Existent Service: service orders has no listener on port 8080\n", ""},
		{"bad path", refBadPath, []any{errAsterisk}, 400, "invalid request path: " + errAsterisk.Error() + "\n", accesslog.ClientProtocolError},
		{"connect", refConnect, nil, 405, "CONNECT is not supported\n", ""},
		{"timeout", refTimeout, nil, 504, "upstream request timeout\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			rl := new(reqLog)
			refuse(w, nil, rl, tc.ref, tc.args...)
			if w.Code != tc.status || w.Body.String() != tc.text || rl.e.FailureReason != tc.reason {
				t.Fatalf("got %d %q reason %q, want %d %q reason %q", w.Code, w.Body.String(), rl.e.FailureReason, tc.status, tc.text, tc.reason)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
	// Auth's own status for a denial, and its reason.
	w, rl := httptest.NewRecorder(), new(reqLog)
	refuseStatus(w, nil, rl, refDenied, 401, "Unauthorized")
	if w.Code != 401 || w.Body.String() != "Unauthorized\n" || rl.e.FailureReason != accesslog.ClientAccessDenied {
		t.Fatalf("denied: %d %q %q", w.Code, w.Body.String(), rl.e.FailureReason)
	}
}
