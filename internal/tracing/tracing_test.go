package tracing

import (
	"strings"
	"testing"
)

func TestValidateEndpoint(t *testing.T) {
	for _, c := range []struct {
		in, err string
	}{
		{"http://127.0.0.1:4318/v1/traces", ""},
		{"https://otel.example:4318", ""},
		{"127.0.0.1:4318", "--otlp-endpoint"},
		{"otel:4318", "want an http:// or https:// URL"},
		{"ftp://x/v1/traces", "want an http:// or https:// URL"},
		{"http:///v1/traces", "want an http:// or https:// URL"},
		{"http://user:pw@127.0.0.1:4318/v1/traces", "no user info"},
		{"http://127.0.0.1:4318/v1/traces?x=1", "no user info, query"},
		{"http://127.0.0.1:4318/v1/traces#f", "fragment"},
		{"http://127.0.0.1:4318/\x7f", "--otlp-endpoint"},
	} {
		_, err := ValidateEndpoint(c.in)
		if c.err == "" {
			if err != nil {
				t.Errorf("%q: %v", c.in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "--otlp-endpoint") {
			t.Errorf("%q: error %v, want one naming --otlp-endpoint and %q", c.in, err, c.err)
		}
	}
}

func TestNewRejectsSample(t *testing.T) {
	for _, s := range []float64{-0.1, 1.5} {
		if _, err := New(Config{Endpoint: "http://127.0.0.1:4318/v1/traces", Sample: s}); err == nil ||
			!strings.Contains(err.Error(), "--trace-sample") {
			t.Errorf("sample %v: %v", s, err)
		}
	}
	tr, err := New(Config{Endpoint: "http://127.0.0.1:4318", Sample: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	_ = tr.Shutdown(t.Context())
}
