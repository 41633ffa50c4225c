//go:build !unix

package h1

// peek cannot look at a socket here: pooled connections are assumed open
// (a closed one is then found when the request fails).
func peek(uintptr) bool { return false }
