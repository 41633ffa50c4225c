// Package console owns the embedded web console (docs/console.md): the
// built assets of web/console (committed in dist/, so that `go build` needs
// no npm) and the handler that serves them under /console/ on the API
// address.
//
// The console is static files only. Every data call the browser makes is a
// SigV4-signed call to the public API, exactly as any AWS SDK client's (the
// credentials never leave the browser's session storage), so the console
// sees only what the signed-in account may see: the API enforces it, not
// this package. Hence the rule (internal/archtest): console imports only the
// standard library — no service, store or api internals, nothing that could
// let a page read what the API would refuse.
package console
