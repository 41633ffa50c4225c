package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const wrkOut = `Running 10s test @ http://127.0.0.1:40001/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   669.94us  120.33us   7.20ms   91.21%
    Req/Sec    95.65k     3.12k   99.12k    80.00%
  951881 requests in 10.00s, 131.63MB read
  Socket errors: connect 0, read 2, write 1, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  95187.72
Transfer/sec:     13.16MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkOut)
	if err != nil {
		t.Fatal(err)
	}
	if r.ReqPerSec != 95187.72 || r.Requests != 951881 || r.Errors != 6 || r.Non2xx != 7 {
		t.Errorf("got %+v", r)
	}
	if !r.broken() {
		t.Error("a run with errors must count as broken")
	}
	clean := strings.Replace(strings.Replace(wrkOut, "  Socket errors: connect 0, read 2, write 1, timeout 3\n", "", 1), "  Non-2xx or 3xx responses: 7\n", "", 1)
	r, err = parseWrk(clean)
	if err != nil || r.broken() {
		t.Errorf("clean run: %+v, %v", r, err)
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Error("no error for output without a result")
	}
}

const h2loadOut = `starting benchmark...
spawning thread #0: 16 total client(s). Timing-based test with 0s of warm-up time and 2s of main duration for measurements.
Warm-up phase is over for thread #0.
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 2.00s, 32819.50 req/s, 2.69MB/s
requests: 65639 total, 65767 started, 65639 done, 65639 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 65642 2xx, 0 3xx, 3 4xx, 1 5xx
traffic: 5.38MB (5639873) total, 1.25MB (1312780) headers (space savings 93.72%), 4.01MB (4200896) data
`

func TestParseH2load(t *testing.T) {
	r, err := parseH2load(h2loadOut)
	if err != nil {
		t.Fatal(err)
	}
	if r.ReqPerSec != 32819.50 || r.Requests != 65639 || r.Errors != 0 || r.Non2xx != 4 {
		t.Errorf("got %+v", r)
	}
	if _, err := parseH2load("no result"); err == nil {
		t.Error("no error for output without a result")
	}
}

func TestSummarizeAndFormat(t *testing.T) {
	s := summarize([]float64{5, 1, 3, 2, 4})
	if s.median != 3 || s.min != 1 || s.max != 5 {
		t.Errorf("summarize: %+v", s)
	}
	if s := summarize([]float64{4, 1, 2, 3}); s.median != 2.5 {
		t.Errorf("even median: %v", s.median)
	}
	for in, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 95187.72: "95,188", 1234567: "1,234,567"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%v) = %q, want %q", in, got, want)
		}
	}
	if got := micros(85.4); got != "85 µs" {
		t.Errorf("micros: %q", got)
	}
	if got := signedMicros(-1250); got != "−1.25 ms" {
		t.Errorf("signedMicros: %q", got)
	}
}

func TestUpdateDocsKeepsTheRest(t *testing.T) {
	r := &Results{Mode: "full", Params: Params{CapDuration: "10s", Rounds: 2, Rates: []int{1000}, CPUProxy: "0", CPULoad: "1"},
		HTTP1: []CapRun{
			{Target: "direct", Round: 1, ReqPerSec: 150000, Requests: 1},
			{Target: "nginx", Round: 1, ReqPerSec: 100000, Requests: 1},
			{Target: "nginx", Round: 2, ReqPerSec: 90000, Requests: 1},
			{Target: "trellis", Round: 1, ReqPerSec: 40000, Requests: 1},
			{Target: "trellis", Round: 2, ReqPerSec: 50000, Requests: 1},
		},
		Latency: []LatRun{
			{Target: "direct", Rate: 1000, Result: LoadgenResult{OK: 1, Latency: Quantiles{P50: 40, P99: 100, Max: 500}}},
			{Target: "trellis", Rate: 1000, Result: LoadgenResult{OK: 1, Late: 2, Latency: Quantiles{P50: 240, P99: 400, Max: 900}}},
		},
	}
	md := markdown(r)
	for _, want := range []string{
		"| trellis | 45,000 | 40,000–50,000 | 0.47 |",
		"| nginx | 95,000 | 90,000–100,000 | 1.00 |",
		"| trellis | 240 µs | 0 µs | 400 µs | 900 µs | +200 µs | +300 µs | 0 | 2 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	doc := "# Benchmarks\n\nhand-written\n\n" + beginMarker + "\nold\n" + endMarker + "\n\n## Request path\n\nkept\n"
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := updateDocs(path, r); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	got := string(b)
	if strings.Contains(got, "\nold\n") || !strings.Contains(got, "hand-written") || !strings.HasSuffix(got, endMarker+"\n\n## Request path\n\nkept\n") ||
		!strings.Contains(got, "0.47") {
		t.Errorf("updated page:\n%s", got)
	}
	if err := os.WriteFile(path, []byte("no markers"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := updateDocs(path, r); err == nil {
		t.Error("no error for a page without markers")
	}
}
