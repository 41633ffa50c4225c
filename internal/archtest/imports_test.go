// Package archtest keeps the architecture true: it fails when a package
// imports (directly or through others) a package its layer must not see.
package archtest

import (
	"go/build"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const module = "github.com/trellis-net/trellis/"

// rules: packages under a prefix must not depend on these packages.
var rules = []struct {
	pkg       string
	forbidden []string
}{
	{"internal/dataplane/", []string{"internal/store", "internal/store/schema", "internal/service", "internal/api", "internal/app", "internal/cli"}},
	{"internal/snapshot", []string{"internal/service", "internal/api", "internal/app", "internal/dataplane"}},
	{"internal/service", []string{"internal/api", "internal/app", "internal/dataplane", "internal/snapshot"}},
	{"internal/store", []string{"internal/service", "internal/api", "internal/model", "internal/snapshot"}},
	// The etcd store, like the embedded one, knows keys and bytes: no
	// layer above it, no other backend, no key layout.
	{"internal/store/etcd", []string{"internal/app", "internal/cli", "internal/dataplane", "internal/store/embedded",
		"internal/store/schema"}},
	{"internal/model", []string{"internal/store", "internal/service", "internal/api"}},
	// cluster is what nodes share beside the store: it gets an etcd client
	// and functions from app, and knows no layer of Trellis but model's
	// status names.
	{"internal/cluster", []string{"internal/store", "internal/service", "internal/api", "internal/app", "internal/cli",
		"internal/snapshot", "internal/dataplane", "internal/canary"}},
	{"internal/arn", []string{"internal/"}},
	{"internal/sigv4", []string{"internal/"}},
	{"internal/gcfloor", []string{"internal/"}},
	{"internal/ca", []string{"internal/"}},
	{"internal/dataplane/pathnorm", []string{"internal/"}},
	{"internal/dataplane/tlspeek", []string{"internal/"}},
	// passthrough is called by the ingress; it relays bytes, it knows no HTTP.
	{"internal/dataplane/passthrough", []string{"internal/dataplane/proxy", "internal/dataplane/ingress", "internal/dataplane/h1"}},
	{"internal/dataplane/grpcwire", []string{"internal/"}},
	// netns is the Linux mechanism only: VPCs are mapped onto it by its callers.
	{"internal/netns", []string{"internal/"}},
	{"internal/dataplane/dns", []string{"internal/dataplane/proxy"}},
	// TLS termination is called by the ingress, never the other way round.
	{"internal/dataplane/tlsterm", []string{"internal/dataplane/proxy", "internal/dataplane/ingress", "internal/dataplane/h1"}},
	// h1 is HTTP/1.x on the wire: nothing of Trellis.
	{"internal/dataplane/h1", []string{"internal/"}},
	// h2 is HTTP/2 on the wire: nothing of Trellis but h1's seams.
	{"internal/dataplane/h2", []string{"internal/dataplane/proxy", "internal/dataplane/ingress", "internal/dataplane/auth",
		"internal/dataplane/route", "internal/snapshot", "internal/model"}},
	// ingress owns sockets and accept-time checks, not the Lattice request.
	{"internal/dataplane/ingress", []string{"internal/dataplane/proxy", "internal/dataplane/auth", "internal/dataplane/route",
		"internal/store", "internal/service", "internal/api"}},
	{"internal/dataplane/proxy", []string{"internal/dataplane/ingress"}},
	// lambda is the event, the response and the Invoker seam: nothing of
	// Trellis but the JSON string escaper (the proxy hands it the request;
	// app adapts the function host).
	{"internal/dataplane/lambda", []string{"internal/snapshot", "internal/model", "internal/arn", "internal/functions",
		"internal/dataplane/proxy", "internal/dataplane/ingress", "internal/dataplane/auth", "internal/dataplane/route",
		"internal/dataplane/accesslog", "internal/dataplane/h1", "internal/dataplane/h2"}},
	// jsonstr is the data plane's one JSON string escaper: nothing of Trellis.
	{"internal/dataplane/jsonstr", []string{"internal/"}},
	// metrics sees snapshots and hook arguments only; the data plane
	// reaches it through hooks, never by import (no Prometheus there).
	{"internal/metrics", []string{"internal/store", "internal/service", "internal/api", "internal/app", "internal/cli"}},
	{"internal/dataplane/", []string{"internal/metrics", "github.com/prometheus"}},
	// tracing owns the OTel SDK; the data plane reaches it through the
	// proxy.Tracer seam only, never by import (no OTel there at all).
	{"internal/tracing", []string{"internal/store", "internal/service", "internal/api", "internal/app", "internal/cli"}},
	{"internal/dataplane/", []string{"internal/tracing", "go.opentelemetry.io/"}},
	// traffic is a proxy.Observer: the proxy hands it observations and
	// never imports it; the API reads it through app's adapter only.
	{"internal/dataplane/proxy", []string{"internal/dataplane/traffic"}},
	{"internal/dataplane/traffic", []string{"internal/dataplane/ingress"}},
	{"internal/api", []string{"internal/dataplane"}},
	// apitest lists the SDK's operations by reflection: nothing of Trellis.
	{"internal/api/apitest", []string{"internal/"}},
	{"internal/cli", []string{"internal/service", "internal/api", "internal/store", "internal/app"}},
	// canary sits beside the service layer: it changes weights through the
	// service and reads the aggregates through its Stats interface, never
	// the data plane, the snapshot or the API.
	{"internal/canary", []string{"internal/api", "internal/app", "internal/cli", "internal/snapshot", "internal/dataplane",
		"internal/metrics", "internal/tracing"}},
	// The API reaches the data plane (live access log taps, DNS answers)
	// only through functions and interfaces app hands it.
	{"internal/api", []string{"internal/dataplane"}},
	// The function host is called by the API and the data plane; it reads
	// declarations through its own Source interface, never the store.
	{"internal/functions", []string{"internal/api", "internal/service", "internal/store", "internal/dataplane",
		"internal/snapshot", "internal/app", "internal/cli"}},
	// The console is static files served as they are: the standard library
	// only, nothing of Trellis (its pages reach data through the public API).
	{"internal/console", []string{"internal/", "github.com/", "golang.org/", "google.golang.org/", "gopkg.in/", "go.etcd.io/",
		"go.opentelemetry.io/", "go.uber.org/"}},
	// Leaves (below) import nothing of Trellis.
	{"internal/hexdigit", []string{"internal/"}},
	// serveproc runs trellis serve for the suites under test/: it sees
	// Trellis only as a process and its HTTP API, as a user does.
	{"test/serveproc", []string{"internal/"}},
}

// leaves are helpers every layer may use: they import nothing of Trellis
// (their own rule above says so), so they carry no layer's knowledge.
var leaves = map[string]bool{"internal/hexdigit": true}

func root(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// deps returns the module packages pkg depends on, transitively.
func deps(t *testing.T, dir, pkg string, seen map[string]bool) {
	if seen[pkg] {
		return
	}
	seen[pkg] = true
	p, err := build.Import(module+pkg, dir, 0)
	if err != nil {
		t.Fatalf("import %s: %v", pkg, err)
	}
	for _, imp := range p.Imports {
		if strings.HasPrefix(imp, module) {
			deps(t, dir, strings.TrimPrefix(imp, module), seen)
		} else if strings.Contains(imp, ".") {
			// A third-party package, by its full path (not followed):
			// rules may forbid those too (no Prometheus in the data plane).
			seen[imp] = true
		}
	}
}

func TestLayering(t *testing.T) {
	dir := root(t)
	var pkgs []string
	matches, _ := filepath.Glob(filepath.Join(dir, "internal", "*"))
	more, _ := filepath.Glob(filepath.Join(dir, "internal", "*", "*"))
	// The test support packages too (the suites themselves are _test.go
	// files only, which ImportDir does not count).
	tests, _ := filepath.Glob(filepath.Join(dir, "test", "*"))
	for _, m := range append(append(matches, more...), tests...) {
		if p, err := build.ImportDir(m, 0); err == nil && !strings.HasSuffix(m, "testdata") {
			rel, _ := filepath.Rel(dir, m)
			_ = p
			pkgs = append(pkgs, filepath.ToSlash(rel))
		}
	}
	if len(pkgs) < 10 {
		t.Fatalf("found only %d packages: %v", len(pkgs), pkgs)
	}
	for _, pkg := range pkgs {
		seen := map[string]bool{}
		deps(t, dir, pkg, seen)
		for _, r := range rules {
			// A rule covers its package and the packages under it, not
			// its name's prefix: internal/ca's rule is not internal/canary's.
			if pkg != r.pkg && !strings.HasPrefix(pkg, strings.TrimSuffix(r.pkg, "/")+"/") {
				continue
			}
			for dep := range seen {
				if dep == pkg || leaves[dep] {
					continue
				}
				for _, f := range r.forbidden {
					if dep == f || strings.HasPrefix(dep, f+"/") || (strings.HasSuffix(f, "/") && strings.HasPrefix(dep, f)) {
						t.Errorf("%s depends on %s, which its layer must not use", pkg, dep)
					}
				}
			}
		}
	}
}
