package hexdigit

import (
	"strconv"
	"testing"
)

// TestValue: every byte against strconv's reading of it as a base-16 digit.
func TestValue(t *testing.T) {
	for c := 0; c < 256; c++ {
		want, err := strconv.ParseUint(string(rune(c)), 16, 8)
		if c >= 0x80 {
			err = strconv.ErrSyntax // a lone byte, not the rune strconv would see
		}
		got, ok := Value(byte(c))
		if ok != (err == nil) || (ok && uint64(got) != want) {
			t.Errorf("Value(%#x) = %d, %v; want %d, %v", c, got, ok, want, err == nil)
		}
	}
}
