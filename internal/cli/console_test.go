package cli

import (
	"strings"
	"testing"
)

func TestConsoleURL(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		env, want, err string
	}{
		{nil, "", "http://127.0.0.1:8686/console/", ""},
		{[]string{"--endpoint", "https://trellis.example:9443/"}, "", "https://trellis.example:9443/console/", ""},
		{[]string{"--endpoint", "http://u:p@10.1.2.3:8686/base?x=1#f"}, "", "http://10.1.2.3:8686/base/console/", ""},
		{nil, "http://[::1]:8686", "http://[::1]:8686/console/", ""},
		{[]string{"--endpoint", "ftp://x"}, "", "", `invalid --endpoint "ftp://x"`},
	} {
		t.Run(strings.Join(tc.args, " ")+tc.env, func(t *testing.T) {
			t.Setenv(envEndpoint, tc.env)
			r := runCLI("", append([]string{"console"}, tc.args...)...)
			if tc.err != "" {
				if r.err == nil || !strings.Contains(r.err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", r.err, tc.err)
				}
				return
			}
			if r.err != nil || r.stdout != tc.want+"\n" {
				t.Fatalf("stdout %q err %v, want %q", r.stdout, r.err, tc.want)
			}
		})
	}
}
