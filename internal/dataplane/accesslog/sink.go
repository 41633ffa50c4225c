package accesslog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

// A sink is one destination file (or, for S3, one resource's series of
// objects) and the records waiting for it. Its file is opened on the first
// write and kept open between flushes; before each write the flush checks
// that the path still names that file, so that a log rotator's rename (or
// a deletion) makes the next write create a new file rather than feed one
// nobody reads. Its two buffers are kept from flush to flush: under load
// they grow to what one flush brings (at most MaxPending), and regrowing
// them every time would cost Log more than the copying itself. After
// idleClose without records, the file is closed and the buffers let go.
//
// Writes are all or nothing as far as readers can tell: a batch is one
// write call, and a failed one is truncated back off the file, so that the
// next batch never follows a partial line or gzip member.
type sink struct {
	t    target
	dest string // the destination ARN, for warnings

	mu     sync.Mutex
	buf    []byte // encoded records waiting, one per line
	n      int    // how many
	closed bool   // Close's last flush is done with this sink

	// Owned by the flush (Logger.flushMu).
	spare    []byte // the buffer swapped in by the next flush
	f        *os.File
	fi       os.FileInfo // f's, to compare with what its path names now
	name     string      // f's path, relative to Dir
	window   time.Time   // S3: the 5-minute window of f
	opened   time.Time   // S3: when f was started
	object   string      // S3: the name f gets when it is sealed ("" for lines files)
	lastData time.Time   // the last flush that had records
	lastWarn time.Time   // the last write failure reported
}

type appendResult uint8

const (
	appendOK     appendResult = iota
	appendWake                // the buffer just passed wakeAt
	appendFull                // dropped: MaxPending would be exceeded
	appendClosed              // dropped: the Logger is closed
)

// append adds one encoded record to the buffer, unless that would make it
// longer than limit.
func (s *sink) append(line []byte, limit int) appendResult {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return appendClosed
	}
	before := len(s.buf)
	if before+len(line) > limit {
		s.mu.Unlock()
		return appendFull
	}
	s.buf = append(s.buf, line...)
	s.n++
	s.mu.Unlock()
	if before < wakeAt && before+len(line) >= wakeAt {
		return appendWake
	}
	return appendOK
}

// flushSink writes out s's buffer. flushMu is held.
func (l *Logger) flushSink(s *sink, now time.Time, final bool) error {
	s.mu.Lock()
	batch, n := s.buf, s.n
	s.buf, s.n, s.spare = s.spare[:0], 0, nil
	if final {
		s.closed = true
	}
	s.mu.Unlock()
	var err error
	if len(batch) == 0 {
		l.sealIfDue(s, now) // an S3 object is sealed on time without new records too
	}
	switch {
	case len(batch) > 0:
		s.lastData = now
		if err = l.write(s, batch, now); err != nil {
			l.dropped.Add(uint64(n))
			if s.lastWarn.IsZero() || now.Sub(s.lastWarn) >= warnEvery {
				s.lastWarn = now
				l.log.Warn("access logs: write failed, records dropped",
					"destination", s.dest, "records", n, "err", err)
			}
			err = fmt.Errorf("access logs: %s: %w", s.dest, err)
		}
	case now.Sub(s.lastData) >= idleClose && (s.f != nil || cap(batch) > 0):
		if cerr := l.closeFile(s); cerr != nil {
			l.log.Debug("access logs: close an idle file", "destination", s.dest, "err", cerr)
		}
		batch = nil
		s.mu.Lock()
		if len(s.buf) == 0 {
			s.buf = nil
		}
		s.mu.Unlock()
	}
	s.spare = batch[:0]
	return err
}

func (l *Logger) write(s *sink, b []byte, now time.Time) error {
	if s.t.lines {
		return l.writeLines(s, b)
	}
	return l.writeS3(s, b, now)
}

// writeLines appends b to the sink's JSON lines file.
func (l *Logger) writeLines(s *sink, b []byte) error {
	size, ok := l.current(s)
	if !ok {
		if err := l.open(s, s.t.path, 0); err != nil {
			return err
		}
		size = s.fi.Size()
	}
	return l.writeAll(s, b, size)
}

// writeS3 appends b as one gzip member to the object of the window now is
// in, starting a new object when the window has changed or the object is
// gone (moved away by an uploader, say: a new name keeps it from being
// overwritten).
func (l *Logger) writeS3(s *sink, b []byte, now time.Time) error {
	l.sealIfDue(s, now)
	size, ok := l.current(s)
	if !ok {
		w := now.UTC().Truncate(s3Window)
		var err error
		for range 3 { // names are random: try another if one is taken
			name := s.t.objectPath(w, l.nodeHash)
			// A sealed object of that name would be replaced by this one's
			// seal (a rename): taken too.
			if _, serr := l.root.Stat(name); serr == nil {
				err = fs.ErrExist
				continue
			}
			if err = l.open(s, name+partial, os.O_EXCL); !errors.Is(err, fs.ErrExist) {
				if err == nil {
					s.object = name
				}
				break
			}
		}
		if err != nil {
			return err
		}
		s.window, s.opened, size = w, now, 0
	}
	if l.gz == nil {
		// The fastest level, of klauspost/compress's gzip (about twice as
		// fast as compress/gzip's on access log lines, 2.4 vs 1.25 GB/s,
		// and smaller): one goroutine compresses for every S3 destination,
		// and access logs compress well at any level. The tests read the
		// objects back with the standard library's reader.
		l.gz, _ = gzip.NewWriterLevel(&l.gzBuf, gzip.BestSpeed)
	} else {
		l.gz.Reset(&l.gzBuf)
	}
	l.gzBuf.Reset()
	_, _ = l.gz.Write(b) // a bytes.Buffer does not fail
	_ = l.gz.Close()
	return l.writeAll(s, l.gzBuf.Bytes(), size)
}

// partial ends the name of an S3 object still being written: it gets its
// object name (the same without the suffix) when sealed, so that a reader
// of *.json.gz only ever sees complete objects, as in S3.
const partial = ".partial"

// sealIfDue seals s's S3 object when its window is over or it has been
// open for the logger's S3 object interval.
func (l *Logger) sealIfDue(s *sink, now time.Time) {
	if s.f == nil || s.object == "" {
		return
	}
	if now.UTC().Truncate(s3Window).Equal(s.window) && now.Sub(s.opened) < l.s3Every {
		return
	}
	if err := l.closeFile(s); err != nil {
		l.log.Debug("access logs: seal an S3 object", "destination", s.dest, "err", err)
	}
}

// current reports whether s's open file is still the file at its path, and
// that file's size; it closes the file if not.
func (l *Logger) current(s *sink) (int64, bool) {
	if s.f == nil {
		return 0, false
	}
	fi, err := l.root.Stat(s.name)
	if err != nil || !os.SameFile(fi, s.fi) {
		_ = l.closeFile(s)
		return 0, false
	}
	return fi.Size(), true
}

// open opens (creating it and its directories as needed) name for
// appending, as s's file.
func (l *Logger) open(s *sink, name string, flag int) error {
	if err := l.root.MkdirAll(filepath.Dir(name), 0o750); err != nil {
		return err
	}
	f, err := l.root.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE|flag, 0o640)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	s.f, s.fi, s.name = f, fi, name
	return nil
}

// writeAll appends b to s's file, which was size bytes long; on failure it
// cuts the file back to size and closes it, to reopen on the next write.
func (l *Logger) writeAll(s *sink, b []byte, size int64) error {
	if _, err := s.f.Write(b); err != nil {
		_ = s.f.Truncate(size)
		_ = l.closeFile(s)
		return err
	}
	return nil
}

// closeFile closes s's file; an S3 object is sealed: renamed from its
// staging name to its object name, complete.
func (l *Logger) closeFile(s *sink) error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f, s.fi = nil, nil
	if s.object != "" {
		if rerr := l.root.Rename(s.name, s.object); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
		s.object = ""
	}
	return err
}
