// Package hexdigit reads one hexadecimal digit, either case: the one
// helper that percent-decoding (paths, queries, SigV4's canonical form,
// policy keys) and the gRPC and Lambda encoders share. It allocates
// nothing, inlines, and imports nothing, so any package may use it.
package hexdigit

// Value returns the value of the hexadecimal digit c (0-9, a-f, A-F) and
// true, or 0 and false for any other byte.
func Value(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
