package cli

import (
	"strings"
	"testing"
)

// TestTxtRecordNotice: the server's values reach the terminal only quoted
// when they hold anything but printable ASCII.
func TestTxtRecordNotice(t *testing.T) {
	got := txtRecordNotice("dv-0123456789abcdef0", "_trellis-verification.example.com", "v=1")
	if !strings.Contains(got, "\n  _trellis-verification.example.com. TXT \"v=1\"\n") || !strings.Contains(got, "get dv-0123456789abcdef0'") {
		t.Fatalf("plain: %q", got)
	}
	got = txtRecordNotice("dv-\x1b[2J", "a\nb.example", "x\x1b]0;t\x07")
	if strings.ContainsAny(got[:len(got)-1], "\x1b\x07") || strings.Count(got, "\n") != 2 {
		t.Fatalf("control characters reach the terminal: %q", got)
	}
	if !strings.Contains(got, `"a\nb.example". TXT "x\x1b]0;t\a"`) {
		t.Fatalf("escaped: %q", got)
	}
}
