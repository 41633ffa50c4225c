package console

import (
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// Prefix is where the console is served on the API address. No Lattice or
// Trellis-native path starts with it (Lattice's paths are /servicenetworks,
// /services, ...; Trellis's /trellis/), so it shadows none.
const Prefix = "/console/"

// CSP is the Content-Security-Policy of every console response: the bundle
// and its stylesheet come from this origin, the API calls go to this origin
// (the console is served on the API address: no CORS), no inline script or
// style, no framing (clickjacking: the console holds credentials).
const CSP = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"

//go:embed dist
var dist embed.FS

// Files returns the embedded build output, rooted at dist/.
func Files() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // dist is embedded at build time: it exists
	}
	return sub
}

// Handler serves the console: GET /console redirects to /console/, which
// answers index.html; /console/NAME answers the asset NAME. It serves
// static files only and authenticates nothing (every data call is signed by
// the browser). Paths outside Prefix answer 404, so Handler may also be
// mounted on a mux under Prefix.
func Handler() http.Handler {
	return handler{files: Files()}
}

type handler struct{ files fs.FS }

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", CSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if p == strings.TrimSuffix(Prefix, "/") {
		// A fixed target: nothing of the request is echoed into Location.
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	name, ok := strings.CutPrefix(p, Prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if name == "" {
		name = "index.html"
	}
	// fs.ValidPath refuses "..", "." and empty elements: nothing outside
	// dist is named. Hidden files and directories are not served.
	if !fs.ValidPath(name) || strings.HasPrefix(path.Base(name), ".") {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(h.files, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		hd.Set("Content-Type", ct)
	} else {
		hd.Set("Content-Type", "application/octet-stream")
	}
	if hashed(name) {
		// The name changes with the content (web/console/build.mjs).
		hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// index.html names the current hashed assets: always revalidate.
		hd.Set("Cache-Control", "no-cache")
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b)
}

// hashed reports whether name carries a content hash: NAME-HASH.EXT with a
// HASH of 8 or more characters from esbuild's [A-Z0-9] alphabet.
func hashed(name string) bool {
	base := path.Base(name)
	stem := strings.TrimSuffix(base, path.Ext(base))
	i := strings.LastIndexByte(stem, '-')
	if i < 0 || len(stem)-i-1 < 8 {
		return false
	}
	for _, c := range stem[i+1:] {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
