package functions

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	"github.com/trellis-net/trellis/internal/model"
)

// logFile is one function's log: what its workers write on stdout and
// stderr, and the host's START/END/REPORT lines, as Lambda's log stream has
// them. When a write would take it past max bytes the file is rotated
// (NAME.log → NAME.log.1, replacing the previous one), so a function that
// prints without end uses at most twice max on disk.
type logFile struct {
	mu   sync.Mutex
	path string
	max  int64
	f    *os.File
	size int64
}

var accountIDRE = regexp.MustCompile(`^[0-9]{12}$`)

// logPath is DIR/ACCOUNT/NAME.log. Both parts are checked again here,
// whatever the caller checked: they become a file path.
func logPath(dir, account, name string) (string, error) {
	if !accountIDRE.MatchString(account) || !model.ValidFunctionName(name) {
		return "", fmt.Errorf("functions: no log path for account %q function %q", account, name)
	}
	return filepath.Join(dir, account, name+".log"), nil
}

func openLog(path string, max int64) (*logFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	l := &logFile{path: path, max: max}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *logFile) open() error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	l.f, l.size = f, st.Size()
	return nil
}

// Write appends p, rotating first when p would take the file past max. A
// write larger than max itself is cut to its last max bytes.
func (l *logFile) Write(p []byte) (int, error) {
	n := len(p)
	if int64(len(p)) > l.max {
		p = p[int64(len(p))-l.max:]
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return n, nil // closed: the function is gone
	}
	if l.size+int64(len(p)) > l.max {
		l.f.Close()
		l.f = nil
		if err := os.Rename(l.path, l.path+".1"); err != nil && !os.IsNotExist(err) {
			return 0, err
		}
		if err := l.open(); err != nil {
			return 0, err
		}
	}
	m, err := l.f.Write(p)
	l.size += int64(m)
	if err != nil {
		return m, err
	}
	return n, nil
}

func (l *logFile) printf(format string, args ...any) { fmt.Fprintf(l, format, args...) }

// tail returns the last n bytes of the current file.
func (l *logFile) tail(n int64) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.Open(l.path)
	if err != nil {
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil
	}
	off := max(st.Size()-n, 0)
	b, _ := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	return b
}

func (l *logFile) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}
