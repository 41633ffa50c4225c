package h1

import "testing"

func TestClientIP(t *testing.T) {
	for in, want := range map[string]string{"127.0.0.1:5": "127.0.0.1", "[::1]:5": "::1", "[::ffff:10.0.0.1]:80": "::ffff:10.0.0.1", "pipe": "pipe"} {
		t.Run(in, func(t *testing.T) {
			if got := ClientIP(in); got != want {
				t.Errorf("ClientIP(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

func TestHasToken(t *testing.T) {
	for _, tc := range []struct {
		values []string
		token  string
		want   bool
	}{
		{[]string{"close"}, "close", true},
		{[]string{"Keep-Alive, CLOSE"}, "close", true},
		{[]string{"trailers;q=1"}, "trailers", true},
		{[]string{"x", " y ,z"}, "z", true},
		{[]string{"closed"}, "close", false},
		{nil, "close", false},
	} {
		t.Run(tc.token, func(t *testing.T) {
			if got := HasToken(tc.values, tc.token); got != tc.want {
				t.Errorf("HasToken(%q, %q) = %v", tc.values, tc.token, got)
			}
		})
	}
}
