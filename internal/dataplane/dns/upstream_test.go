package dns

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestParseUpstreams(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" means an error
	}{
		{"127.0.0.1:5300", "[127.0.0.1:5300]"},
		{"10.0.0.2, [2001:db8::1]:5353,192.0.2.1", "[10.0.0.2:53 [2001:db8::1]:5353 192.0.2.1:53]"},
		{"2001:db8::1", "[[2001:db8::1]:53]"},
		{"dns.example:53", ""},
		{"127.0.0.1:0", ""},
		{"127.0.0.1:99999", ""},
		{",", ""},
	} {
		got, err := ParseUpstreams(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseUpstreams(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != tc.want {
			t.Errorf("ParseUpstreams(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestResolvConfUpstreams(t *testing.T) {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(p, []byte("# test\nnameserver 127.0.0.53\nnameserver 2001:db8::53\nsearch example\noptions edns0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ResolvConfUpstreams(p)
	if err != nil || fmt.Sprint(got) != "[127.0.0.53:53 [2001:db8::53]:53]" {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := ResolvConfUpstreams(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("a missing resolv.conf gave no error")
	}
}
