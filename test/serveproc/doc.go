// Package serveproc is test-only support: it runs `trellis serve` as a real
// process for the suites under test/ (e2e, console, sdkjs), so that each of
// them drives the binary from outside the way a user does.
//
// It owns: building the trellis binary once per test binary (Binary, Main),
// picking a free loopback address (FreeAddr), a goroutine-safe log buffer
// (Buffer), starting and stopping `trellis serve` (Start, Server) and
// SigV4-signed calls to the Trellis-native API (Call) and to the Lattice
// API (Lattice) with the official AWS SDK for Go v2.
//
// It knows nothing of each suite's world (services, nodes, browsers): those
// helpers stay in their packages. It must not import any package of
// internal/: it sees Trellis only as a process, its flags and its HTTP API
// (internal/archtest holds it to that). Non-test code must not import it.
package serveproc
