package accesslog

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

const (
	svcARN   = "arn:aws:vpc-lattice:us-east-1:" + acct + ":service/svc-0tap"
	otherARN = "arn:aws:vpc-lattice:us-east-1:" + acct + ":service/svc-0other"
	snARN    = "arn:aws:vpc-lattice:us-east-1:" + acct + ":servicenetwork/sn-0tap"
)

func tapEntry(path, svc, sn string) *Entry {
	e := entryFor(path)
	e.ServiceARN, e.ServiceNetworkARN = svc, sn
	return e
}

// recv takes the records queued in tp, without waiting.
func recv(t *testing.T, tp *Tap) []string {
	t.Helper()
	var paths []string
	for {
		select {
		case line := <-tp.Records():
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil || line[len(line)-1] != '\n' {
				t.Fatalf("tap line %q: %v", line, err)
			}
			paths = append(paths, m["requestPath"].(string))
		default:
			return paths
		}
	}
}

// A tap gets the records of its resource, with or without subscriptions:
// a service tap its service's, a network tap every record through the
// network; nothing else. Subscriptions still get theirs.
func TestTapDelivers(t *testing.T) {
	l, _, _ := newLogger(t, Config{})
	svcTap, err := l.Taps().Open(acct, svcARN)
	must(t, err)
	snTap, err := l.Taps().Open(acct, snARN)
	must(t, err)
	s := sub("als-cw", "svc-0tap", acct, "arn:aws:logs:us-east-1:"+acct+":log-group:g")
	l.Log(tapEntry("/subscribed", svcARN, snARN), one(s), nil)
	l.Log(tapEntry("/unsubscribed", svcARN, ""), nil, nil)
	l.Log(tapEntry("/other-in-network", otherARN, snARN), nil, nil)
	l.Log(tapEntry("/elsewhere", otherARN, ""), nil, nil)
	if got := fmt.Sprint(recv(t, svcTap)); got != "[/subscribed /unsubscribed]" {
		t.Errorf("service tap got %s", got)
	}
	if got := fmt.Sprint(recv(t, snTap)); got != "[/subscribed /other-in-network]" {
		t.Errorf("network tap got %s", got)
	}
	must(t, l.Flush())
	recs := readRecords(t, filepath.Join(l.root.Name(), "cloudwatch", acct, "us-east-1", "g", "svc-0tap.log"))
	if got := fmt.Sprint(paths(recs)); got != "[/subscribed]" {
		t.Errorf("the subscription got %s", got)
	}
	// Closed taps get nothing and no longer count.
	svcTap.Close()
	snTap.Close()
	svcTap.Close() // twice is fine
	if l.Tapped(svcARN, snARN) || l.Taps().Len() != 0 {
		t.Fatalf("still tapped after Close: %d open", l.Taps().Len())
	}
	l.Log(tapEntry("/after", svcARN, snARN), nil, nil)
	if got := recv(t, svcTap); len(got) != 0 {
		t.Fatalf("closed tap got %v", got)
	}
}

// A reader that does not keep up loses records, counted; the logger never
// waits for it.
func TestTapDropsForSlowReader(t *testing.T) {
	l, _, _ := newLogger(t, Config{Taps: TapLimits{Queue: 4}})
	slow, err := l.Taps().Open(acct, svcARN)
	must(t, err)
	fast, err := l.Taps().Open(acct, snARN)
	must(t, err)
	var got []string
	for i := range 10 {
		l.Log(tapEntry(fmt.Sprintf("/%d", i), svcARN, snARN), nil, nil)
		got = append(got, recv(t, fast)...)
	}
	if len(got) != 10 || fast.Dropped() != 0 {
		t.Fatalf("the reader that kept up got %d records, lost %d", len(got), fast.Dropped())
	}
	if got := fmt.Sprint(recv(t, slow)); got != "[/0 /1 /2 /3]" || slow.Dropped() != 6 {
		t.Fatalf("slow reader got %s and lost %d, want the first 4 and 6 lost", got, slow.Dropped())
	}
}

// Limits: per account and in total, with an error that says which; a
// closed tap gives its place back.
func TestTapLimits(t *testing.T) {
	taps := NewTaps(TapLimits{PerAccount: 2, Total: 3})
	a1, err := taps.Open("111111111111", svcARN)
	must(t, err)
	_, err = taps.Open("111111111111", svcARN)
	must(t, err)
	_, err = taps.Open("111111111111", snARN)
	var le *TapLimitError
	if !errors.As(err, &le) || !le.PerAccount || le.Limit != 2 || !errors.Is(err, ErrTapLimit) {
		t.Fatalf("third tap of an account: %v", err)
	}
	_, err = taps.Open("222222222222", svcARN)
	must(t, err)
	_, err = taps.Open("333333333333", svcARN)
	if !errors.As(err, &le) || le.PerAccount || le.Limit != 3 {
		t.Fatalf("fourth tap in all: %v", err)
	}
	a1.Close()
	if _, err := taps.Open("333333333333", svcARN); err != nil {
		t.Fatalf("after a Close: %v", err)
	}
	taps.Close()
	if _, err := taps.Open("444444444444", svcARN); !errors.Is(err, ErrTapsClosed) {
		t.Fatalf("Open after Close: %v", err)
	}
	if taps.Len() != 0 {
		t.Fatalf("%d taps open after Close", taps.Len())
	}
}

// Closing the logger ends its taps.
func TestTapEndsWithLogger(t *testing.T) {
	l, err := New(Config{Dir: t.TempDir()})
	must(t, err)
	tp, err := l.Taps().Open(acct, svcARN)
	must(t, err)
	must(t, l.Close())
	select {
	case <-tp.Done():
	default:
		t.Fatal("the tap did not end with the logger")
	}
}

// Publishing races with taps opening and closing (run under -race).
func TestTapConcurrent(t *testing.T) {
	l, _, _ := newLogger(t, Config{Taps: TapLimits{PerAccount: 100, Total: 100, Queue: 8}})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range 200 {
				l.Log(tapEntry(fmt.Sprintf("/%d", i), svcARN, snARN), nil, nil)
			}
		})
		wg.Go(func() {
			for range 50 {
				tp, err := l.Taps().Open(acct, svcARN)
				if err != nil {
					t.Error(err)
					return
				}
				recv(t, tp)
				tp.Close()
			}
		})
	}
	wg.Wait()
	if l.Taps().Len() != 0 {
		t.Fatalf("%d taps left open", l.Taps().Len())
	}
}

// Tapped is asked per request: no allocation, whether nobody taps
// anything or other resources are tapped.
func TestTapCheckAllocations(t *testing.T) {
	taps := NewTaps(TapLimits{})
	if n := testing.AllocsPerRun(1000, func() { taps.Tapped(svcARN, snARN) }); n != 0 {
		t.Fatalf("Tapped with no taps: %.1f allocations", n)
	}
	tp, err := taps.Open(acct, otherARN)
	must(t, err)
	defer tp.Close()
	if n := testing.AllocsPerRun(1000, func() {
		if taps.Tapped(svcARN, snARN) {
			panic("tapped")
		}
	}); n != 0 {
		t.Fatalf("Tapped with another resource tapped: %.1f allocations", n)
	}
	var none *Taps
	if none.Tapped(svcARN, "") {
		t.Fatal("nil Taps tapped")
	}
}

// A network tap gets the network's resource connection records too (with
// or without a RESOURCE subscription); a service tap and another network's
// tap do not.
func TestTapResourceRecords(t *testing.T) {
	l, _, _ := newLogger(t, Config{})
	snTap, err := l.Taps().Open(acct, snARN)
	must(t, err)
	svcTap, err := l.Taps().Open(acct, svcARN)
	must(t, err)
	otherTap, err := l.Taps().Open(acct, snARN+"x")
	must(t, err)
	e := &ResourceEntry{ServiceNetworkARN: snARN, ResourceConfigurationARN: "arn:aws:vpc-lattice:us-east-1:" + acct + ":resourceconfiguration/rcfg-0tap"}
	l.LogResource(e, nil)
	select {
	case line := <-snTap.Records():
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil || m["resourceConfigurationArn"] != e.ResourceConfigurationARN || m["protocol"] != "tcp" {
			t.Fatalf("network tap line %q: %v", line, err)
		}
	default:
		t.Fatal("the network tap got no resource record")
	}
	for name, tp := range map[string]*Tap{"service": svcTap, "other network": otherTap} {
		select {
		case line := <-tp.Records():
			t.Errorf("%s tap got %q", name, line)
		default:
		}
	}
}
