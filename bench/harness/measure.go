package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"
)

// backendBody is what the backend answers to every request (bench/backend).
const backendBody = "trellis-bench-backend: a fixed 64-byte body for every request..\n"

// get sends one GET to addr with the given Host, over HTTP/1.1 or h2c.
func get(addr, host string, h2c bool) (status int, body string, proto string, err error) {
	protos := new(http.Protocols)
	if h2c {
		protos.SetUnencryptedHTTP2(true)
	} else {
		protos.SetHTTP1(true)
	}
	tr := &http.Transport{Protocols: protos, DisableKeepAlives: !h2c,
		DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	req.Host = host
	res, err := c.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<16))
	return res.StatusCode, string(b), res.Proto, err
}

// verify checks, before anything is measured, that a request through t
// with the service's Host returns the backend's body (over HTTP/1.1, and
// h2c where t has it), and that another Host does not reach the backend
// (for Trellis: 404). It retries for a while: configuration may still be
// propagating.
func verify(t *Target) error {
	check := func() error {
		st, body, _, err := get(t.Addr, t.Host, false)
		if err != nil {
			return fmt.Errorf("HTTP/1.1 GET with Host %s: %v", t.Host, err)
		}
		if st != 200 || body != backendBody {
			return fmt.Errorf("HTTP/1.1 GET with Host %s: status %d, body %q; want 200 and the backend's body", t.Host, st, clip(body))
		}
		if t.Name != "direct" {
			st, body, _, err := get(t.Addr, "not-a-service.invalid", false)
			if err != nil {
				return fmt.Errorf("HTTP/1.1 GET with an unknown Host: %v", err)
			}
			if body == backendBody || (t.StrictHost && st != 404) {
				return fmt.Errorf("HTTP/1.1 GET with an unknown Host: status %d, body %q; want 404, not the backend", st, clip(body))
			}
		}
		if t.H2CAddr != "" {
			st, body, proto, err := get(t.H2CAddr, t.Host, true)
			if err != nil {
				return fmt.Errorf("h2c GET with :authority %s: %v", t.Host, err)
			}
			if st != 200 || body != backendBody || proto != "HTTP/2.0" {
				return fmt.Errorf("h2c GET: %s status %d, body %q; want HTTP/2.0, 200 and the backend's body", proto, st, clip(body))
			}
			if t.StrictHost {
				st, _, _, err := get(t.H2CAddr, "not-a-service.invalid", true)
				if err != nil || st != 404 {
					return fmt.Errorf("h2c GET with an unknown :authority: status %d, %v; want 404", st, err)
				}
			}
		}
		return nil
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not proxy: %w", t.Name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

// CapRun is one closed-loop capacity measurement.
type CapRun struct {
	Target    string  `json:"target"`
	Round     int     `json:"round"`
	ReqPerSec float64 `json:"reqPerSec"`
	Requests  int64   `json:"requests"`
	Errors    int64   `json:"errors"` // socket errors / failed streams
	Non2xx    int64   `json:"non2xx"`
	Err       string  `json:"err,omitempty"`
}

func (r CapRun) broken() bool { return r.Err != "" || r.Errors > 0 || r.Non2xx > 0 || r.Requests == 0 }

var (
	wrkReqs    = regexp.MustCompile(`(?m)^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),`)
	wrkRPS     = regexp.MustCompile(`(?m)^Requests/sec:\s+([\d.]+)`)
	wrkSockErr = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// parseWrk reads wrk's report.
func parseWrk(out string) (CapRun, error) {
	var r CapRun
	m := wrkRPS.FindStringSubmatch(out)
	n := wrkReqs.FindStringSubmatch(out)
	if m == nil || n == nil {
		return r, fmt.Errorf("no result in wrk's output: %q", clip(out))
	}
	r.ReqPerSec, _ = strconv.ParseFloat(m[1], 64)
	r.Requests, _ = strconv.ParseInt(n[1], 10, 64)
	if s := wrkSockErr.FindStringSubmatch(out); s != nil {
		for _, v := range s[1:] {
			k, _ := strconv.ParseInt(v, 10, 64)
			r.Errors += k
		}
	}
	if s := wrkNon2xx.FindStringSubmatch(out); s != nil {
		r.Non2xx, _ = strconv.ParseInt(s[1], 10, 64)
	}
	return r, nil
}

var (
	h2Finished = regexp.MustCompile(`(?m)^finished in [\d.]+\w+, ([\d.]+) req/s`)
	h2Requests = regexp.MustCompile(`(?m)^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)
	h2Status   = regexp.MustCompile(`(?m)^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx`)
)

// parseH2load reads h2load's report.
func parseH2load(out string) (CapRun, error) {
	var r CapRun
	f := h2Finished.FindStringSubmatch(out)
	q := h2Requests.FindStringSubmatch(out)
	s := h2Status.FindStringSubmatch(out)
	if f == nil || q == nil || s == nil {
		return r, fmt.Errorf("no result in h2load's output: %q", clip(out))
	}
	num := func(v string) int64 { k, _ := strconv.ParseInt(v, 10, 64); return k }
	r.ReqPerSec, _ = strconv.ParseFloat(f[1], 64)
	r.Requests = num(q[3])
	r.Errors = num(q[5]) + num(q[6]) + num(q[7])
	r.Non2xx = num(s[2]) + num(s[3]) + num(s[4])
	return r, nil
}

// loadCPU runs a command on the load generator's core.
func loadCmd(cpu string, args ...string) []string {
	return append([]string{"-c", cpu}, args...)
}

func secs(d time.Duration) string { return strconv.Itoa(int((d + time.Second/2) / time.Second)) }

// runWrk: closed loop, HTTP/1.1, one thread, 64 connections.
func runWrk(cpu string, t *Target, d time.Duration) CapRun {
	return runWrkH(cpu, t, d, nil)
}

// runWrkH is runWrk with extra request headers (the features phase's SigV4
// signature).
func runWrkH(cpu string, t *Target, d time.Duration, hdr http.Header) CapRun {
	return runWrkC(cpu, t, d, 64, hdr)
}

// runWrkC is runWrkH with conns connections.
func runWrkC(cpu string, t *Target, d time.Duration, conns int, hdr http.Header) CapRun {
	args := loadCmd(cpu, "wrk", "-t1", "-c"+strconv.Itoa(conns), "-d"+secs(d)+"s", "--timeout", "5s", "-H", "Host: "+t.Host)
	for _, k := range sortedKeys(hdr) {
		args = append(args, "-H", k+": "+hdr.Get(k))
	}
	args = append(args, "http://"+t.Addr+"/")
	out, err := runCmd(d+30*time.Second, nil, "taskset", args...)
	r := CapRun{Target: t.Name}
	if err != nil {
		r.Err = err.Error()
		return r
	}
	p, err := parseWrk(out)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	p.Target = t.Name
	return p
}

// runH2load: closed loop, h2c with prior knowledge, one thread, 16
// connections with 8 streams each.
func runH2load(cpu string, t *Target, d time.Duration) CapRun {
	args := loadCmd(cpu, "h2load", "-c16", "-m8", "-t1", "-D", secs(d),
		"-H", ":authority: "+t.Host, "http://"+t.H2CAddr+"/")
	out, err := runCmd(d+30*time.Second, nil, "taskset", args...)
	r := CapRun{Target: t.Name}
	if err != nil {
		r.Err = err.Error()
		return r
	}
	p, err := parseH2load(out)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	p.Target = t.Name
	return p
}

// LoadgenResult is bench/loadgen's output.
type LoadgenResult struct {
	Proto        string    `json:"proto"`
	Rate         float64   `json:"rate"`
	DurationS    float64   `json:"durationSeconds"`
	Scheduled    uint64    `json:"scheduled"`
	OK           uint64    `json:"ok"`
	Errors       uint64    `json:"errors"`
	BadStatus    uint64    `json:"badStatus"`
	Unsent       uint64    `json:"unsent"`
	Late         uint64    `json:"late"`
	PoolFull     uint64    `json:"poolFull"`
	Conns        int64     `json:"conns"`
	AchievedRate float64   `json:"achievedRate"`
	Latency      Quantiles `json:"latencyMicros"`
	SendLag      Quantiles `json:"sendLagMicros"`
	ErrorSamples []string  `json:"errorSamples,omitempty"`
}

// Quantiles are in microseconds.
type Quantiles struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// LatRun is one open-loop run at a fixed rate.
type LatRun struct {
	Target string        `json:"target"`
	Round  int           `json:"round"`
	Rate   int           `json:"rate"`
	Result LoadgenResult `json:"result"`
	Err    string        `json:"err,omitempty"`
}

func (r LatRun) broken() bool {
	return r.Err != "" || r.Result.Errors > 0 || r.Result.BadStatus > 0 || r.Result.OK == 0
}

func runLoadgen(binDir, cpu string, t *Target, rate int, d, warm time.Duration) LatRun {
	body := backendBody
	if t.body != "" {
		body = t.body
	}
	args := loadCmd(cpu, filepath.Join(binDir, "loadgen"), "-url", "http://"+t.Addr+"/", "-host", t.Host,
		"-rate", strconv.Itoa(rate), "-duration", d.String(), "-warmup", warm.String(),
		"-timeout", "5s", "-grace", "2s", "-expect-body-len", strconv.Itoa(len(body)))
	r := LatRun{Target: t.Name, Rate: rate}
	out, err := runCmd(d+warm+30*time.Second, nil, "taskset", args...)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	if err := json.Unmarshal([]byte(out), &r.Result); err != nil {
		r.Err = fmt.Sprintf("loadgen output: %v: %q", err, clip(out))
	}
	return r
}

// summary of a list of numbers.
type summary struct{ median, min, max float64 }

func summarize(xs []float64) summary {
	if len(xs) == 0 {
		return summary{}
	}
	s := append([]float64(nil), xs...)
	for i := 1; i < len(s); i++ { // insertion sort: a handful of values
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	var med float64
	if n := len(s); n%2 == 1 {
		med = s[n/2]
	} else {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return summary{median: med, min: s[0], max: s[len(s)-1]}
}

func sortedKeys(h http.Header) []string {
	ks := make([]string, 0, len(h))
	for k := range h {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
