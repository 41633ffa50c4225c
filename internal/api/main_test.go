package api_test

import (
	"os"
	"path/filepath"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	// The test function built once for the package (function_test.go).
	if fnPath != "" {
		os.RemoveAll(filepath.Dir(fnPath))
	}
	os.Exit(code)
}
