package accesslog

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Two nodes writing S3 objects of one resource and one window into one
// shared directory: each object's HASH starts with its node's hash, so no
// node seals (renames) its object over another's; every record is there.
func TestS3ObjectsOfTwoNodesApart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shared")
	a, clockA, _ := newLogger(t, Config{Dir: dir, Node: "node-a", S3ObjectInterval: time.Second})
	b, clockB, _ := newLogger(t, Config{Dir: dir, Node: "node-b", S3ObjectInterval: time.Second})
	if NodeHash("node-a") == NodeHash("node-b") {
		t.Fatal("test nodes share a hash")
	}
	s := sub("als-s3", snID, acct, "arn:aws:s3:::b")
	var want []string
	for i := range 20 {
		for _, n := range []struct {
			l     *Logger
			clock *fakeClock
			name  string
		}{{a, clockA, "a"}, {b, clockB, "b"}} {
			p := fmt.Sprintf("/%s/%d", n.name, i)
			want = append(want, p)
			n.l.Log(entryFor(p), nil, one(s))
			must(t, n.l.Flush())
			n.clock.Advance(time.Second) // seal at the next flush: many objects per window
		}
	}
	must(t, a.Close())
	must(t, b.Close())
	objs := s3Objects(t, a)
	var got []string
	prefixes := map[string]int{}
	for _, o := range objs {
		base := strings.TrimSuffix(filepath.Base(o), ".json.gz")
		hash := base[strings.LastIndexByte(base, '_')+1:]
		if len(hash) != 8 {
			t.Fatalf("object %s: HASH %q is not 8 hex digits", o, hash)
		}
		prefixes[hash[:4]]++
		got = append(got, paths(readRecords(t, o))...)
	}
	wantPrefixes := map[string]int{fmt.Sprintf("%04x", NodeHash("node-a")): 20, fmt.Sprintf("%04x", NodeHash("node-b")): 20}
	if fmt.Sprint(prefixes) != fmt.Sprint(wantPrefixes) {
		t.Errorf("HASH prefixes %v, want %v (20 objects per node)", prefixes, wantPrefixes)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("records %q, want %q", got, want)
	}
}
