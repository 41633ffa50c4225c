package accesslog

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/snapshot"
)

func TestNewNeedsDir(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without a directory succeeded")
	}
}

func TestNewCreatesDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	l, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if info, err := os.Stat(dir); err != nil || !info.IsDir() || info.Mode().Perm()&^0o750 != 0 {
		t.Fatalf("Dir: %v %v", info, err)
	}
}

// s3Objects returns the sealed objects of the S3 subscription of the S3
// tests; s3Partial the object still being written.
func s3Objects(t *testing.T, l *Logger) []string { return s3Glob(t, l, "*.json.gz") }
func s3Partial(t *testing.T, l *Logger) []string { return s3Glob(t, l, "*.json.gz.partial") }

func s3Glob(t *testing.T, l *Logger, pattern string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(l.root.Name(), "s3", "b", "AWSLogs", acct, "VpcLattice", "AccessLogs", "us-east-1", "*", "*", "*", snID, pattern))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// An object collects the records of one 5-minute window (at most): each
// flush appends one gzip member; Close seals the last one.
func TestS3Windows(t *testing.T) {
	l, clock, _ := newLogger(t, Config{S3ObjectInterval: time.Hour})
	s := sub("als-s3", snID, acct, "arn:aws:s3:::b")
	l.Log(entryFor("/1"), nil, one(s))
	must(t, l.Flush())
	l.Log(entryFor("/2"), nil, one(s))
	l.Log(entryFor("/3"), nil, one(s))
	clock.Advance(time.Minute) // 07:09:09, still the 07:05 window
	must(t, l.Flush())
	if objs := s3Objects(t, l); len(objs) != 0 {
		t.Fatalf("sealed objects %q within the window and the interval", objs)
	}
	clock.Advance(time.Minute) // 07:10:09: the 07:10 window
	l.Log(entryFor("/4"), nil, one(s))
	must(t, l.Flush())
	if objs, part := s3Objects(t, l), s3Partial(t, l); len(objs) != 1 || len(part) != 1 {
		t.Fatalf("after the window changed: sealed %q, partial %q; want one each", objs, part)
	}
	must(t, l.Close())

	objs := s3Objects(t, l)
	if len(objs) != 2 || len(s3Partial(t, l)) != 0 {
		t.Fatalf("objects %q (partial %q), want 2 sealed", objs, s3Partial(t, l))
	}
	slices.Sort(objs) // by window: the names differ first there
	for i, want := range []struct {
		stamp   string
		paths   []string
		members int
	}{
		{"_20240305T0705Z_", []string{"/1", "/2", "/3"}, 2},
		{"_20240305T0710Z_", []string{"/4"}, 1},
	} {
		if !strings.Contains(filepath.Base(objs[i]), want.stamp) {
			t.Errorf("object %s, want the window %s", objs[i], want.stamp)
		}
		if got := paths(readRecords(t, objs[i])); !slices.Equal(got, want.paths) {
			t.Errorf("%s: records %q, want %q", objs[i], got, want.paths)
		}
		if n := countMembers(t, objs[i]); n != want.members {
			t.Errorf("%s: %d gzip members, want %d", objs[i], n, want.members)
		}
	}
}

// An object is sealed once it is S3ObjectInterval old, with or without new
// records, and the next records start another.
func TestS3ObjectInterval(t *testing.T) {
	l, clock, _ := newLogger(t, Config{S3ObjectInterval: 30 * time.Second})
	s := sub("als-s3", snID, acct, "arn:aws:s3:::b")
	l.Log(entryFor("/1"), nil, one(s))
	must(t, l.Flush())
	if len(s3Objects(t, l)) != 0 || len(s3Partial(t, l)) != 1 {
		t.Fatalf("a new object is visible as .json.gz before it is sealed: %q", s3Objects(t, l))
	}
	clock.Advance(30 * time.Second)
	must(t, l.Flush()) // no records: seals on time
	objs := s3Objects(t, l)
	if len(objs) != 1 || len(s3Partial(t, l)) != 0 {
		t.Fatalf("after the interval: sealed %q, partial %q", objs, s3Partial(t, l))
	}
	if got := paths(readRecords(t, objs[0])); !slices.Equal(got, []string{"/1"}) {
		t.Errorf("records %q", got)
	}
	l.Log(entryFor("/2"), nil, one(s))
	must(t, l.Flush())
	if part := s3Partial(t, l); len(part) != 1 || strings.TrimSuffix(part[0], ".partial") == objs[0] {
		t.Fatalf("the next records: partial %q after %q", part, objs[0])
	}
}

// countMembers counts the gzip members of a file by reading them one at a
// time.
func countMembers(t *testing.T, name string) int {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReader(f) // a ByteReader: gzip reads no further than each member
	zr, err := gzip.NewReader(br)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		zr.Multistream(false)
		if _, err := io.Copy(io.Discard, zr); err != nil {
			t.Fatal(err)
		}
		n++
		if err := zr.Reset(br); err == io.EOF {
			return n
		} else if err != nil {
			t.Fatal(err)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// An S3 object that disappears while it is written (someone took the
// .partial file) is not recreated under the same name: the next records
// start another object.
func TestS3ObjectGone(t *testing.T) {
	l, _, _ := newLogger(t, Config{})
	s := sub("als-s3", snID, acct, "arn:aws:s3:::b")
	l.Log(entryFor("/1"), nil, one(s))
	must(t, l.Flush())
	first := s3Partial(t, l)
	if len(first) != 1 {
		t.Fatalf("objects %q", first)
	}
	must(t, os.Remove(first[0]))
	l.Log(entryFor("/2"), nil, one(s))
	must(t, l.Flush())
	must(t, l.Close())
	second := s3Objects(t, l)
	if len(second) != 1 || second[0]+".partial" == first[0] {
		t.Fatalf("objects %q after %q was removed", second, first)
	}
	if got := paths(readRecords(t, second[0])); !slices.Equal(got, []string{"/2"}) {
		t.Errorf("records %q", got)
	}
}

func TestCloseFlushes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	l, err := New(Config{Dir: dir, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	cw := sub("als-cw", svcID, acct, "arn:aws:logs:us-east-1:"+acct+":log-group:g")
	s3 := sub("als-s3", snID, acct, "arn:aws:s3:::b")
	for i := range 100 {
		l.Log(entryFor(fmt.Sprint("/", i)), one(cw), one(s3))
	}
	must(t, l.Close())
	must(t, l.Close()) // twice is fine
	l.Log(entryFor("/after"), one(cw), one(s3))
	l.Log(entryFor("/after"), one(sub("als-new", svcID, acct, "arn:aws:firehose:us-east-1:"+acct+":deliverystream/new")), nil)
	must(t, l.Flush())
	got := files(t, dir)
	if len(got) != 2 {
		t.Fatalf("files %q", got)
	}
	for _, f := range got {
		recs := readRecords(t, filepath.Join(dir, f))
		if len(recs) != 100 {
			t.Errorf("%s: %d records, want 100", f, len(recs))
		}
	}
	if l.Dropped() != 0 {
		t.Errorf("Dropped() = %d", l.Dropped())
	}
}

func TestMaxPending(t *testing.T) {
	line := len(AppendJSON(nil, entryFor("/x"))) + 1
	l, _, logs := newLogger(t, Config{MaxPending: 3*line + line/2})
	s := sub("als-fh", svcID, acct, "arn:aws:firehose:us-east-1:"+acct+":deliverystream/f")
	for range 10 {
		l.Log(entryFor("/x"), one(s), nil)
	}
	if l.Dropped() != 7 {
		t.Errorf("Dropped() = %d, want 7", l.Dropped())
	}
	must(t, l.Flush())
	if n := len(readRecords(t, filepath.Join(l.root.Name(), "firehose", acct, "us-east-1", "f.log"))); n != 3 {
		t.Errorf("%d records written, want 3", n)
	}
	if !strings.Contains(logs.String(), `"msg":"access logs: records dropped","dropped":7`) {
		t.Errorf("no report of the dropped records:\n%s", logs)
	}
	// Room again after the flush.
	l.Log(entryFor("/x"), one(s), nil)
	if l.Dropped() != 7 {
		t.Errorf("Dropped() = %d after a flush, want 7", l.Dropped())
	}
}

// A log rotator renames the file: the next flush writes a new one.
func TestLogrotate(t *testing.T) {
	l, _, _ := newLogger(t, Config{})
	s := sub("als-cw", svcID, acct, "arn:aws:logs:us-east-1:"+acct+":log-group:g")
	name := filepath.Join(l.root.Name(), "cloudwatch", acct, "us-east-1", "g", svcID+".log")
	l.Log(entryFor("/old"), one(s), nil)
	must(t, l.Flush())
	must(t, os.Rename(name, name+".1"))
	l.Log(entryFor("/new"), one(s), nil)
	must(t, l.Flush())
	if got := paths(readRecords(t, name)); !slices.Equal(got, []string{"/new"}) {
		t.Errorf("new file: %q", got)
	}
	if got := paths(readRecords(t, name+".1")); !slices.Equal(got, []string{"/old"}) {
		t.Errorf("rotated file: %q", got)
	}
	// Deleted, and replaced by another file: the same.
	must(t, os.Remove(name))
	l.Log(entryFor("/after-delete"), one(s), nil)
	must(t, l.Flush())
	must(t, os.Rename(name, name+".2"))
	must(t, os.WriteFile(name, []byte(`{"requestPath":"/someone-else"}`+"\n"), 0o640))
	l.Log(entryFor("/after-replace"), one(s), nil)
	must(t, l.Flush())
	if got := paths(readRecords(t, name)); !slices.Equal(got, []string{"/someone-else", "/after-replace"}) {
		t.Errorf("replaced file: %q", got)
	}
	if got := paths(readRecords(t, name+".2")); !slices.Equal(got, []string{"/after-delete"}) {
		t.Errorf("file after deletion: %q", got)
	}
}

// A file with nothing to write for two minutes is closed, and reopened when
// records come.
func TestIdleClose(t *testing.T) {
	l, clock, _ := newLogger(t, Config{})
	s := sub("als-cw", svcID, acct, "arn:aws:logs:us-east-1:"+acct+":log-group:g")
	l.Log(entryFor("/1"), one(s), nil)
	must(t, l.Flush())
	sk := l.all[0]
	if sk.f == nil {
		t.Fatal("no open file after a write")
	}
	clock.Advance(time.Minute)
	must(t, l.Flush())
	if sk.f == nil {
		t.Fatal("closed after a minute")
	}
	clock.Advance(time.Minute)
	must(t, l.Flush())
	if sk.f != nil || sk.spare != nil {
		t.Fatal("still open (or holding buffers) after two idle minutes")
	}
	l.Log(entryFor("/2"), one(s), nil)
	must(t, l.Flush())
	if sk.f == nil {
		t.Fatal("not reopened")
	}
	name := filepath.Join(l.root.Name(), "cloudwatch", acct, "us-east-1", "g", svcID+".log")
	if got := paths(readRecords(t, name)); !slices.Equal(got, []string{"/1", "/2"}) {
		t.Errorf("records %q", got)
	}
}

// A destination that cannot be written drops its batches, counted, with
// one warning a minute.
func TestWriteFailure(t *testing.T) {
	l, clock, logs := newLogger(t, Config{})
	s := sub("als-cw", svcID, acct, "arn:aws:logs:us-east-1:"+acct+":log-group:g")
	// A directory where the stream's file should be.
	name := filepath.Join(l.root.Name(), "cloudwatch", acct, "us-east-1", "g", svcID+".log")
	must(t, os.MkdirAll(name, 0o750))
	for range 3 {
		l.Log(entryFor("/x"), one(s), nil)
		l.Log(entryFor("/x"), one(s), nil)
		if err := l.Flush(); err == nil {
			t.Fatal("Flush succeeded")
		}
		clock.Advance(20 * time.Second)
	}
	if l.Dropped() != 6 {
		t.Errorf("Dropped() = %d, want 6", l.Dropped())
	}
	if n := logs.count("write failed"); n != 1 {
		t.Errorf("%d warnings in the first minute, want 1:\n%s", n, logs)
	}
	clock.Advance(time.Minute)
	l.Log(entryFor("/x"), one(s), nil)
	_ = l.Flush()
	if n := logs.count("write failed"); n != 2 {
		t.Errorf("%d warnings after a minute, want 2:\n%s", n, logs)
	}
	// Fixed: the next flush writes.
	must(t, os.Remove(name))
	l.Log(entryFor("/ok"), one(s), nil)
	must(t, l.Flush())
	if got := paths(readRecords(t, name)); !slices.Equal(got, []string{"/ok"}) {
		t.Errorf("records %q", got)
	}
}

// The background flusher writes on its own: on its interval, and early
// when a buffer passes wakeAt.
func TestBackgroundFlush(t *testing.T) {
	t.Run("interval", func(t *testing.T) {
		l, _, _ := newLogger(t, Config{FlushInterval: 10 * time.Millisecond})
		s := sub("als-fh", svcID, acct, "arn:aws:firehose:us-east-1:"+acct+":deliverystream/f")
		l.Log(entryFor("/x"), one(s), nil)
		waitForRecords(t, filepath.Join(l.root.Name(), "firehose", acct, "us-east-1", "f.log"), 1)
	})
	t.Run("wake", func(t *testing.T) {
		l, _, _ := newLogger(t, Config{FlushInterval: time.Hour})
		s := sub("als-fh", svcID, acct, "arn:aws:firehose:us-east-1:"+acct+":deliverystream/f")
		line := len(AppendJSON(nil, entryFor("/x"))) + 1
		n := wakeAt/line + 1
		for range n {
			l.Log(entryFor("/x"), one(s), nil)
		}
		waitForRecords(t, filepath.Join(l.root.Name(), "firehose", acct, "us-east-1", "f.log"), n)
	})
}

func waitForRecords(t *testing.T, name string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(name); err == nil && bytes.Count(b, []byte("\n")) >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: fewer than %d records after 10s", name, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Many goroutines log to shared and separate destinations while flushes
// run: every line is whole, and every record is written or counted
// dropped.
func TestConcurrentLogging(t *testing.T) {
	l, clock, _ := newLogger(t, Config{FlushInterval: time.Millisecond, MaxPending: 1 << 20})
	const workers, perWorker = 8, 500
	shared := sub("als-shared", snID, acct, "arn:aws:s3:::shared")
	fh := "arn:aws:firehose:us-east-1:" + acct + ":deliverystream/fh"
	var wg sync.WaitGroup
	for w := range workers {
		own := sub(fmt.Sprint("als-own-", w), fmt.Sprint("svc-", w), acct, "arn:aws:logs:us-east-1:"+acct+":log-group:g")
		// Two subscriptions (snapshot copies) to one stream: one sink.
		both := []*snapshot.LogSubscription{sub("als-fh", svcID, acct, fh), sub("als-fh", svcID, acct, fh)}
		wg.Go(func() {
			for i := range perWorker {
				e := entryFor(fmt.Sprintf("/w%d/%d/%s", w, i, strings.Repeat("x", i%97)))
				e.UserAgent = "ua \"quoted\" \x01 ünï"
				l.Log(e, []*snapshot.LogSubscription{own, both[i%2]}, one(shared))
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			if err := l.Flush(); err != nil {
				t.Error(err)
			}
			clock.Advance(30 * time.Second) // crosses 5-minute windows
		}
	})
	wg.Wait()
	must(t, l.Close())
	total := 0
	for _, f := range files(t, l.root.Name()) {
		total += len(readRecords(t, filepath.Join(l.root.Name(), f)))
	}
	if want := 3 * workers * perWorker; total+int(l.Dropped()) != want {
		t.Errorf("%d records written + %d dropped, want %d", total, l.Dropped(), want)
	}
	t.Logf("%d written, %d dropped", total, l.Dropped())
}

// Log allocates nothing once its buffers have grown. The runs stay under
// wakeAt, so that the flusher's own allocations (it runs when woken) are
// not counted against Log.
func TestLogAllocs(t *testing.T) {
	l, _, _ := newLogger(t, Config{})
	svc, sn := benchSubs()
	e := benchEntry()
	runs := wakeAt/(len(AppendJSON(nil, e))+1) - 2
	for range 2 { // both of each sink's buffers grown
		for range runs + 1 {
			l.Log(e, svc, sn)
		}
		must(t, l.Flush())
	}
	if n := testing.AllocsPerRun(runs, func() { l.Log(e, svc, sn) }); n != 0 {
		t.Errorf("Log: %v allocations per record", n)
	}
	if l.Dropped() != 0 {
		t.Errorf("Dropped() = %d", l.Dropped())
	}
	must(t, l.Flush())
	for _, s := range l.all {
		if s.n != 0 || len(s.buf) != 0 {
			t.Fatal("a buffer was not flushed")
		}
	}
	if got := len(readRecords(t, filepath.Join(l.root.Name(), "cloudwatch", acct, "us-east-1", "%2Faws%2Fvpclattice%2Fprod", svcID+".log"))); got != 3*(runs+1) {
		t.Errorf("%d records, want %d", got, 3*(runs+1))
	}
}

func benchSubs() (svc, sn []*snapshot.LogSubscription) {
	return one(sub("als-cw", svcID, acct, "arn:aws:logs:us-east-1:"+acct+":log-group:/aws/vpclattice/prod")),
		one(sub("als-s3", snID, acct, "arn:aws:s3:::lattice-logs/prod"))
}

func benchEntry() *Entry {
	e := fullEntry()
	e.Caller = &snapshot.Identity{PrincipalARN: "arn:aws:sts::111122223333:assumed-role/reader/s1", OrgID: "o-abc123",
		Tags: map[string]string{"team": "orders", "env": "prod"}}
	return e
}

// BenchmarkLog measures the request path: Log with one CloudWatch
// subscription of the service and one S3 subscription of its network.
// One producer at full speed makes gigabytes of records a second, more than
// any flusher writes, and records dropped would make Log look cheaper than
// it is: so the benchmark empties the buffers itself every 1000 records
// (a lock and a reslice per sink, in the timing), besides the background
// flusher's own writes. dropped/op must be 0.
func BenchmarkLog(b *testing.B) {
	l, _, _ := newLogger(b, Config{})
	svc, sn := benchSubs()
	e := benchEntry()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		l.Log(e, svc, sn)
		if n++; n%1000 == 0 {
			drain(l)
		}
	}
	b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
}

// BenchmarkLogParallel is BenchmarkLog from every processor at once, into
// the same two sinks.
func BenchmarkLogParallel(b *testing.B) {
	l, _, _ := newLogger(b, Config{})
	svc, sn := benchSubs()
	e := benchEntry()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			l.Log(e, svc, sn)
			if n++; n%1000 == 0 {
				drain(l)
			}
		}
	})
	b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
}

// drain empties every sink's buffer without writing it.
func drain(l *Logger) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.all {
		s.mu.Lock()
		s.buf, s.n = s.buf[:0], 0
		s.mu.Unlock()
	}
}
