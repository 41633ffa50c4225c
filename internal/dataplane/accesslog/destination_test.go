package accesslog

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	acct  = "111122223333"
	other = "444455556666"
	svcID = "svc-0123456789abcdef0"
	snID  = "sn-0123456789abcdef0"
)

func TestComponent(t *testing.T) {
	cases := map[string]string{
		"svc-0123456789abcdef0": "svc-0123456789abcdef0",
		"us-east-1":             "us-east-1",
		"a.b_c#d+e=f@g-h":       "a.b_c#d+e=f@g-h",
		"/aws/vpclattice/prod":  "%2Faws%2Fvpclattice%2Fprod",
		"100%":                  "100%25",
		".":                     "%2E",
		"..":                    "%2E.",
		".hidden":               "%2Ehidden",
		"a..b":                  "a..b",
		"sp ace:colon*star":     "sp%20ace%3Acolon%2Astar",
		"nul\x00\xff":           "nul%00%FF",
		"é":                     "%C3%A9",
		"":                      "%",
	}
	for in, want := range cases {
		if got := component(in); got != want {
			t.Errorf("component(%q) = %q, want %q", in, got, want)
		}
	}
}

// Each kind of destination lands in its documented place.
func TestDestinationLayout(t *testing.T) {
	l, _, logs := newLogger(t, Config{Region: "eu-west-1"})
	subs := []*struct {
		svc  bool
		sub  *subscriptionSpec
		want string // relative to Dir; a regexp for S3 objects
	}{
		{true, &subscriptionSpec{"als-cw", svcID, "arn:aws:logs:us-west-2:" + other + ":log-group:/aws/vpclattice/prod:*"},
			"cloudwatch/" + other + "/us-west-2/%2Faws%2Fvpclattice%2Fprod/" + svcID + ".log"},
		{false, &subscriptionSpec{"als-cw2", snID, "arn:aws:logs:us-west-2:" + other + ":log-group:/aws/vpclattice/prod"},
			"cloudwatch/" + other + "/us-west-2/%2Faws%2Fvpclattice%2Fprod/" + snID + ".log"},
		{true, &subscriptionSpec{"als-fh", svcID, "arn:aws:firehose:us-east-2:" + acct + ":deliverystream/lattice-logs"},
			"firehose/" + acct + "/us-east-2/lattice-logs.log"},
		{false, &subscriptionSpec{"als-s3", snID, "arn:aws:s3:::my-bucket"},
			`s3/my-bucket/AWSLogs/` + acct + `/VpcLattice/AccessLogs/eu-west-1/2024/03/05/` + snID + `/` +
				acct + `_VpcLatticeAccessLogs_eu-west-1_` + snID + `_20240305T0705Z_[0-9a-f]{8}\.json\.gz`},
		{true, &subscriptionSpec{"als-s3p", svcID, "arn:aws:s3:::my-bucket/team//logs/"},
			`s3/my-bucket/team/logs/AWSLogs/` + acct + `/VpcLattice/AccessLogs/eu-west-1/2024/03/05/` + svcID + `/` +
				acct + `_VpcLatticeAccessLogs_eu-west-1_` + svcID + `_20240305T0705Z_[0-9a-f]{8}\.json\.gz`},
	}
	for _, s := range subs {
		ls := sub(s.sub.id, s.sub.resource, acct, s.sub.dest)
		if s.svc {
			l.Log(entryFor("/"+s.sub.id), one(ls), nil)
		} else {
			l.Log(entryFor("/"+s.sub.id), nil, one(ls))
		}
	}
	// Close seals the S3 objects (until then they are NAME.json.gz.partial).
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := files(t, l.root.Name())
	if len(got) != len(subs) {
		t.Fatalf("files %q, want %d", got, len(subs))
	}
	for _, s := range subs {
		re := regexp.MustCompile("^" + s.want + "$")
		i := slices.IndexFunc(got, func(p string) bool { return re.MatchString(filepath.ToSlash(p)) })
		if i < 0 {
			t.Errorf("%s: no file %s in %q", s.sub.dest, s.want, got)
			continue
		}
		if p := paths(readRecords(t, filepath.Join(l.root.Name(), got[i]))); !slices.Equal(p, []string{"/" + s.sub.id}) {
			t.Errorf("%s: records %q", got[i], p)
		}
	}
	if l.Dropped() != 0 || logs.String() != "" {
		t.Errorf("dropped %d, log %s", l.Dropped(), logs)
	}
	info, err := os.Stat(filepath.Join(l.root.Name(), "firehose", acct, "us-east-2", "lattice-logs.log"))
	if err != nil || info.Mode().Perm() != 0o640 {
		t.Errorf("file mode: %v %v", info, err)
	}
	if info, err := os.Stat(filepath.Join(l.root.Name(), "firehose", acct)); err != nil || !info.IsDir() || info.Mode().Perm()&^0o750 != 0 {
		t.Errorf("directory mode: %v %v", info, err)
	}
}

type subscriptionSpec struct{ id, resource, dest string }

// Two subscriptions that resolve to the same file share one sink.
func TestSharedSink(t *testing.T) {
	l, _, _ := newLogger(t, Config{})
	fh := "arn:aws:firehose:us-east-1:" + acct + ":deliverystream/shared"
	a, b := sub("als-a", svcID, acct, fh), sub("als-b", snID, acct, fh)
	l.Log(entryFor("/1"), one(a), one(b))
	if len(l.all) != 1 {
		t.Fatalf("%d sinks, want 1", len(l.all))
	}
	// Snapshots are rebuilt on every change: equal subscriptions in new
	// objects find the same sink.
	a2 := *a
	l.Log(entryFor("/2"), one(&a2), nil)
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(l.all) != 1 || len(*l.routes.Load()) != 2 {
		t.Errorf("%d sinks, %d routes", len(l.all), len(*l.routes.Load()))
	}
	got := paths(readRecords(t, filepath.Join(l.root.Name(), "firehose", acct, "us-east-1", "shared.log")))
	if want := []string{"/1", "/1", "/2"}; !slices.Equal(got, want) {
		t.Errorf("records %q, want %q", got, want)
	}
}

// Nothing in a destination ARN or a subscription gets a file out of Dir.
func TestDestinationTraversal(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "logs")
	l, _, _ := newLogger(t, Config{Dir: dir})
	evil := []*subscriptionSpec{
		{"als-1", svcID, "arn:aws:logs:us-east-1:" + acct + ":log-group:../../etc"},
		{"als-2", "../../../escape", "arn:aws:logs:..:..:log-group:.."},
		{"als-3", "svc-a/../../b", "arn:aws:logs:us-east-1:" + acct + ":log-group:x"},
		{"als-4", svcID, "arn:aws:s3:::../x"},
		{"als-5", svcID, "arn:aws:s3:::bucket/../../../x/./.."},
		{"als-6", "..", "arn:aws:firehose:us-east-1:" + acct + ":deliverystream/../../../f"},
		{"als-7", "/abs", "arn:aws:s3:::bucket/%2e%2e/"},
	}
	for _, s := range evil {
		l.Log(entryFor("/"+s.id), one(sub(s.id, s.resource, "../"+acct, s.dest)), nil)
	}
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if l.Dropped() != 0 {
		t.Errorf("dropped %d", l.Dropped())
	}
	all := files(t, parent)
	if len(all) != len(evil) {
		t.Errorf("files %q, want %d", all, len(evil))
	}
	for _, p := range all {
		if !strings.HasPrefix(p, "logs"+string(filepath.Separator)) {
			t.Errorf("%s is outside the log directory", p)
		}
		for _, part := range strings.Split(filepath.ToSlash(p), "/") {
			if part == "." || part == ".." || part == "" {
				t.Errorf("%s has a %q component", p, part)
			}
		}
	}
}

// A destination Trellis cannot write to drops its records, counted, with
// one warning per destination.
func TestUnusableDestinations(t *testing.T) {
	l, _, logs := newLogger(t, Config{})
	bad := []string{
		"arn:aws:sqs:us-east-1:" + acct + ":queue",
		"not an arn",
		"arn:aws:s3:us-east-1:" + acct + ":accesspoint/ap",
		"arn:aws:logs:us-east-1:" + acct + ":log-group:",
		"arn:aws:logs:us-east-1::log-group:g",
		"arn:aws:firehose:us-east-1:" + acct + ":deliverystream/",
		"arn:aws:s3:::",
	}
	var subs []*subscriptionSpec
	for i, d := range bad {
		subs = append(subs, &subscriptionSpec{"als-" + string(rune('a'+i)), svcID, d})
	}
	good := sub("als-good", svcID, acct, "arn:aws:firehose:us-east-1:"+acct+":deliverystream/ok")
	for range 10 {
		for _, s := range subs {
			l.Log(entryFor("/x"), one(sub(s.id, s.resource, acct, s.dest)), one(good))
		}
	}
	// A second subscription to the same unusable destination: no new warning.
	l.Log(entryFor("/x"), one(sub("als-again", svcID, acct, bad[0])), nil)
	if err := l.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := l.Dropped(), uint64(10*len(bad)+1); got != want {
		t.Errorf("Dropped() = %d, want %d", got, want)
	}
	for _, d := range bad {
		if n := logs.count(`"destination":"` + d + `"`); n != 1 {
			t.Errorf("%d warnings for %s, want 1:\n%s", n, d, logs)
		}
	}
	if n := len(readRecords(t, filepath.Join(l.root.Name(), "firehose", acct, "us-east-1", "ok.log"))); n != 10*len(bad) {
		t.Errorf("%d records in the usable destination, want %d", n, 10*len(bad))
	}
	if diff := cmp.Diff([]string{filepath.Join("firehose", acct, "us-east-1", "ok.log")}, files(t, l.root.Name())); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}
