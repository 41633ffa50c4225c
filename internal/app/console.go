package app

import (
	"net/http"
	"strings"

	"github.com/trellis-net/trellis/internal/console"
)

// withConsole serves the web console's static files at /console and under
// /console/ on the API address, ahead of the API, and every other request
// with api. Same origin as the API, so the browser's signed calls need no
// CORS. The console's requests are not signed (static files only: every
// data call the page makes is a signed API call); no Lattice, Trellis-native
// or other AWS API path (STS, ACM at "/", Lambda under /2015-03-31/, RAM's
// lower-case operation paths) starts with /console, so none is shadowed.
func withConsole(api http.Handler) http.Handler {
	ui := console.Handler()
	root := strings.TrimSuffix(console.Prefix, "/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == root || strings.HasPrefix(p, console.Prefix) {
			ui.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}
