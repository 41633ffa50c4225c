package proxy

import (
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// recordingObserver keeps every observation.
type recordingObserver struct {
	mu      sync.Mutex
	started int
	done    []Observation
}

func (o *recordingObserver) RequestStarted(*snapshot.Snapshot, *snapshot.Service, *snapshot.TargetGroup) {
	o.mu.Lock()
	o.started++
	o.mu.Unlock()
}

func (o *recordingObserver) RequestDone(ob Observation) {
	o.mu.Lock()
	o.done = append(o.done, ob)
	o.mu.Unlock()
}

// wait returns the observations once there are n (the observer is told
// after the response is written: the client may be faster).
func (o *recordingObserver) wait(t *testing.T, n int) ([]Observation, int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		o.mu.Lock()
		got, started := append([]Observation(nil), o.done...), o.started
		o.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				t.Fatalf("%d observations, want %d", len(got), n)
			}
			return got, started
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestObserverSeesEveryRequest: through both servers and both HTTP
// versions, the observer is told of each request once, with the service and
// target group it was judged for, its status and its body sizes.
func TestObserverSeesEveryRequest(t *testing.T) {
	for _, tc := range []struct {
		name     string
		std, h2  bool
		wantHTTP bool
	}{
		{"trellis/h1", false, false, false},
		{"trellis/h2c", false, true, true},
		{"net-http/h1", true, false, false},
		{"net-http/h2c", true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs := &recordingObserver{}
			be := newBackend(t, "obs", func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				_, _ = io.WriteString(w, "hello")
			})
			e := newEnv(t, func(c *testConfig) { c.StdServer, c.Observer = tc.std, obs })
			port := freePort(t, netip.MustParseAddr("127.0.0.1"))
			tg := ipGroup("tg-0obs", be.addr())
			empty := ipGroup("tg-0empty")
			svc := service("svc-0obs", "obs.example.com", port,
				rule("r1", 1, snapshot.Match{Path: &snapshot.PathMatch{Value: "/gone"}}, snapshot.Action{FixedStatus: 404}),
				rule("r2", 2, snapshot.Match{Path: &snapshot.PathMatch{Value: "/empty"}}, to(empty)),
				defaultRule(to(tg)))
			v := e.simple(svc)
			do := func(method, host, path, body string) int {
				var rd io.Reader
				if body != "" {
					rd = strings.NewReader(body)
				}
				if tc.h2 {
					return e.doH2(method, v.Ingress, port, host, path, nil, rd).status
				}
				return e.do(method, v.Ingress, port, host, path, nil, rd).status
			}
			if st := do("POST", "obs.example.com", "/items", "abcd"); st != 200 {
				t.Fatalf("forwarded: %d", st)
			}
			if st := do("GET", "obs.example.com", "/gone", ""); st != 404 {
				t.Fatalf("fixed: %d", st)
			}
			if st := do("GET", "obs.example.com", "/empty", ""); st != 503 {
				t.Fatalf("no targets: %d", st)
			}
			if st := do("GET", "nobody.example.com", "/", ""); st != 404 {
				t.Fatalf("no service: %d", st)
			}
			got, started := obs.wait(t, 4)
			if started != 2 {
				t.Errorf("%d requests started toward a target group, want 2", started)
			}
			want := []struct {
				svc, tg       string
				forwarded     bool
				status        int
				recv, minSent int64
			}{
				{"svc-0obs", "tg-0obs", true, 200, 4, 5},
				{"svc-0obs", "", false, 404, 0, 0},
				{"svc-0obs", "tg-0empty", true, 503, 0, 1},
				{"", "", false, 404, 0, 1},
			}
			for i, w := range want {
				o := got[i]
				svcID, tgID := "", ""
				if o.Service != nil {
					svcID = o.Service.ID
				}
				if o.TargetGroup != nil {
					tgID = o.TargetGroup.ID
				}
				if svcID != w.svc || tgID != w.tg || o.Forwarded != w.forwarded || o.Status != w.status ||
					o.BytesReceived != w.recv || o.BytesSent < w.minSent || (w.minSent == 5 && o.BytesSent != 5) ||
					o.Duration <= 0 || o.HTTP2 != tc.wantHTTP || o.Snap == nil || o.TimedOut {
					t.Errorf("request %d: %+v; want %+v", i, o, w)
				}
			}
		})
	}
}

// TestObserverSeesTimeouts: a target slower than the request timeout is
// observed as TimedOut with the data plane's 504 (Lattice's
// RequestTimeoutCount); a slow answer within it is not.
func TestObserverSeesTimeouts(t *testing.T) {
	obs := &recordingObserver{}
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	be := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		_, _ = io.WriteString(w, "late")
	})
	e := newEnv(t, func(c *testConfig) { c.Observer, c.RequestTimeout = obs, 200*time.Millisecond })
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	v := e.simple(service("svc-0slow", "slow.example.com", port, defaultRule(to(ipGroup("tg-0slow", be.addr())))))
	if st := e.get(v, port, "slow.example.com", "/slow").status; st != 504 {
		t.Fatalf("slow target: %d, want 504", st)
	}
	if st := e.get(v, port, "slow.example.com", "/fast").status; st != 200 {
		t.Fatalf("fast: %d", st)
	}
	got, _ := obs.wait(t, 2)
	if !got[0].TimedOut || got[0].Status != 504 || got[0].Duration < 200*time.Millisecond {
		t.Errorf("timed out request: %+v", got[0])
	}
	if got[1].TimedOut || got[1].Status != 200 {
		t.Errorf("answered request: %+v", got[1])
	}
}
