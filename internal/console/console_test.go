package console

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// The embedded bundle exists, and index.html names only files that exist:
// a build that forgot to commit an asset, or left a stale index.html, fails
// here rather than in a browser.
func TestBundleIsComplete(t *testing.T) {
	files := Files()
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		t.Fatalf("dist/index.html: %v (run make console)", err)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(index), -1)
	var js, css int
	for _, m := range refs {
		ref := m[1]
		if strings.HasPrefix(ref, "data:") {
			continue
		}
		if strings.Contains(ref, "//") || strings.HasPrefix(ref, "/") {
			t.Errorf("index.html references %q: assets must be relative (served under %s, nothing fetched elsewhere)", ref, Prefix)
			continue
		}
		st, err := fs.Stat(files, ref)
		if err != nil {
			t.Errorf("index.html references %q, which is not in dist: %v", ref, err)
			continue
		}
		if st.Size() == 0 {
			t.Errorf("%s is empty", ref)
		}
		if !hashed(ref) {
			t.Errorf("%s carries no content hash: it could not be cached as immutable", ref)
		}
		switch {
		case strings.HasSuffix(ref, ".js"):
			js++
		case strings.HasSuffix(ref, ".css"):
			css++
		}
	}
	if js != 1 || css != 1 {
		t.Errorf("index.html references %d scripts and %d stylesheets, want 1 and 1:\n%s", js, css, index)
	}
	// No file of the bundle is fetched from elsewhere (the console works
	// without network access).
	_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := fs.ReadFile(files, p)
		for _, bad := range []string{"fonts.googleapis.com", "cdn.jsdelivr.net", "unpkg.com"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s refers to %s", p, bad)
			}
		}
		return nil
	})
}

func get(t *testing.T, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func TestHandler(t *testing.T) {
	index, _ := fs.ReadFile(Files(), "index.html")
	script := regexp.MustCompile(`src="([^"]+\.js)"`).FindSubmatch(index)
	if script == nil {
		t.Fatal("index.html has no script")
	}
	asset := Prefix + string(script[1])
	cases := []struct {
		name, method, path string
		status             int
		location           string
		contentType        string
		cache              string
		body               string
	}{
		{"bare prefix redirects", "GET", "/console", http.StatusMovedPermanently, "/console/", "", "", ""},
		{"index", "GET", "/console/", http.StatusOK, "", "text/html; charset=utf-8", "no-cache", "<title>Trellis console</title>"},
		{"index by name", "GET", "/console/index.html", http.StatusOK, "", "text/html; charset=utf-8", "no-cache", ""},
		{"hashed asset is immutable", "GET", asset, http.StatusOK, "", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", ""},
		{"HEAD has no body", "HEAD", "/console/", http.StatusOK, "", "text/html; charset=utf-8", "no-cache", ""},
		{"missing file", "GET", "/console/nope.js", http.StatusNotFound, "", "", "", ""},
		{"dot-dot", "GET", "/console/../go.mod", http.StatusNotFound, "", "", "", ""},
		{"outside the prefix", "GET", "/services", http.StatusNotFound, "", "", "", ""},
		{"write methods", "POST", "/console/", http.StatusMethodNotAllowed, "", "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp := get(t, tc.method, tc.path)
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s: status %d, want %d (%s)", tc.method, tc.path, resp.StatusCode, tc.status, body)
			}
			// Every answer carries the strict headers, errors included.
			h := resp.Header
			if h.Get("Content-Security-Policy") != CSP {
				t.Errorf("Content-Security-Policy %q", h.Get("Content-Security-Policy"))
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("headers %v", h)
			}
			if tc.location != "" && h.Get("Location") != tc.location {
				t.Errorf("Location %q, want %q", h.Get("Location"), tc.location)
			}
			if tc.contentType != "" && h.Get("Content-Type") != tc.contentType {
				t.Errorf("Content-Type %q, want %q", h.Get("Content-Type"), tc.contentType)
			}
			if tc.cache != "" && h.Get("Cache-Control") != tc.cache {
				t.Errorf("Cache-Control %q, want %q", h.Get("Cache-Control"), tc.cache)
			}
			if !strings.Contains(string(body), tc.body) {
				t.Errorf("body lacks %q", tc.body)
			}
			if tc.method == "HEAD" && len(body) != 0 {
				t.Errorf("HEAD answered %d bytes", len(body))
			}
		})
	}
}

func TestCSPIsStrict(t *testing.T) {
	// The pages run no inline script or style and load nothing from
	// elsewhere: the policy must say so (and the end-to-end test runs the
	// console under it).
	for _, want := range []string{"default-src 'self'", "connect-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(CSP, want) {
			t.Errorf("CSP lacks %q", want)
		}
	}
	if strings.Contains(CSP, "unsafe-") {
		t.Errorf("CSP allows unsafe sources: %s", CSP)
	}
}

func TestHashed(t *testing.T) {
	for name, want := range map[string]bool{
		"app-JPTDZPFI.js": true, "style-2JPVZMIN.css": true, "index.html": false,
		"app.js": false, "app-abc.js": false, "app-jptdzpfi.js": false,
	} {
		if hashed(name) != want {
			t.Errorf("hashed(%q) = %v", name, !want)
		}
	}
}
