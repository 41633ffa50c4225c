package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// recorder keeps the records the proxy hands to its access logger (the
// files they end up in are tested in internal/dataplane/accesslog and, end
// to end, in internal/app).
type recorder struct {
	mu   sync.Mutex
	recs []recorded
	// tapped are the ARNs someone taps (Tapped): set before requests.
	tapped map[string]bool
}

func (r *recorder) Tapped(svcARN, snARN string) bool { return r.tapped[svcARN] || r.tapped[snARN] }

type recorded struct {
	e               accesslog.Entry
	svcSubs, snSubs []*snapshot.LogSubscription
}

func (r *recorder) Log(e *accesslog.Entry, svcSubs, snSubs []*snapshot.LogSubscription) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, recorded{*e, svcSubs, snSubs})
}

// last waits for the record of the request with the given path: the proxy
// logs after the response is flushed, so it may come a moment after the
// client has its answer.
func (r *recorder) last(t *testing.T, path string) recorded {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		for i := len(r.recs) - 1; i >= 0; i-- {
			if r.recs[i].e.Path == path {
				rec := r.recs[i]
				r.mu.Unlock()
				return rec
			}
		}
		r.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no access log record of %s", path)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.recs)
}

func TestAccessLogEntries(t *testing.T) {
	for _, tc := range []struct {
		name      string
		std       bool // net/http's server on the ingress
		h2c       bool
		wantProto string
	}{
		{"own server", false, false, "HTTP/1.1"},
		{"net/http server", true, false, "HTTP/1.1"},
		{"h2c", false, true, "HTTP/2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := new(recorder)
			e := newEnv(t, func(c *testConfig) {
				c.AccessLog = rec
				c.StdServer = tc.std
				c.RequestTimeout = 300 * time.Millisecond
			})
			be := newBackend(t, "b", func(w http.ResponseWriter, r *http.Request) {
				switch {
				case strings.HasPrefix(r.URL.Path, "/slow"):
					select {
					case <-time.After(2 * time.Second):
					case <-r.Context().Done():
					}
				case strings.HasPrefix(r.URL.Path, "/grpc"):
					w.Header().Set("Trailer", "Grpc-Status")
					w.Header().Set("Content-Type", "application/grpc")
					io.WriteString(w, "frame")
					w.Header().Set("Grpc-Status", "5")
				default:
					b, _ := io.ReadAll(r.Body)
					io.WriteString(w, "hello "+string(b))
				}
			})
			port := freePort(t, netip.MustParseAddr("127.0.0.1"))
			tg := ipGroup("tg-log", be.addr())
			tg.VpcID = "vpc-0targets"
			gtg := ipGroup("tg-grpc", be.addr())
			gtg.ProtocolVersion = "GRPC"
			svc := service("svc-0log", "log.example.com", port,
				rule("r-grpc", 1, snapshot.Match{Path: &snapshot.PathMatch{Value: "/grpc"}}, to(gtg)),
				defaultRule(to(tg)))
			svc.AccessLogs = []*snapshot.LogSubscription{{ID: "als-0svc", ResourceID: svc.ID, DestinationARN: "arn:aws:logs:us-east-1:111122223333:log-group:x"}}
			quiet := service("svc-0quiet", "quiet.example.com", port, defaultRule(to(tg)))
			v := vpcIn("vpc-0a000000000000001", nextIngress(), network("sn-0a000000000000001"), svc, quiet)
			e.publish(snapshotOf(v))
			if tc.h2c {
				e.client = h2cClient(t)
			}

			res := e.do(http.MethodPost, v.Ingress, port, "log.example.com", "/ok?x=1", http.Header{"User-Agent": {"ua/1"}}, strings.NewReader("ping"))
			expect(t, res, 200, "hello ping")
			r := rec.last(t, "/ok?x=1")
			got := r.e
			if got.Status != 200 || got.BytesSent != int64(len("hello ping")) || got.BytesReceived != 4 || got.Method != "POST" ||
				got.Protocol != tc.wantProto || got.Host != "log.example.com" || got.UserAgent != "ua/1" {
				t.Errorf("request fields: %+v", got)
			}
			if got.ServiceARN != svc.ARN || got.ServiceNetworkARN != v.ServiceNetwork.ARN || got.TargetGroupARN != tg.ARN ||
				got.ListenerID != "listener-svc-0log" || got.ListenerType != "HTTP" || got.SourceVPCID != v.ID || got.SourceVPCARN != v.ARN ||
				got.DestinationVPCID != "vpc-0targets" || got.Target.String() != be.addr() || got.RequestID != res.header.Get("X-Amzn-Requestid") {
				t.Errorf("routing fields: %+v", got)
			}
			if !got.Source.Addr().IsLoopback() || got.Source.Port() == 0 {
				t.Errorf("source %v", got.Source)
			}
			if got.Duration < 0 || got.RequestToTarget < 0 || got.ResponseFromTarget < 0 || got.RequestToTarget > got.Duration ||
				time.Since(got.Start) > time.Minute || got.FailureReason != "" || got.GRPCStatus != -1 || got.AuthChecked {
				t.Errorf("timing/outcome fields: %+v", got)
			}
			if len(r.svcSubs) != 1 || r.svcSubs[0].ID != "als-0svc" || len(r.snSubs) != 0 {
				t.Errorf("subscriptions: %v %v", r.svcSubs, r.snSubs)
			}

			// gRPC status from the trailer (a GRPC group takes gRPC over
			// HTTP/2 only).
			e.doH2(http.MethodPost, v.Ingress, port, "log.example.com", "/grpc/Method", http.Header{"Content-Type": {"application/grpc"}}, strings.NewReader("x"))
			if g := rec.last(t, "/grpc/Method").e; g.GRPCStatus != 5 || g.TargetGroupARN != gtg.ARN {
				t.Errorf("gRPC record: status %d, tg %s", g.GRPCStatus, g.TargetGroupARN)
			}

			// No answer in time: 504, TargetDataTimeout, no response duration.
			expect(t, e.get(v, port, "log.example.com", "/slow"), 504, "timeout")
			if g := rec.last(t, "/slow").e; g.Status != 504 || g.FailureReason != accesslog.TargetDataTimeout || g.ResponseFromTarget >= 0 || g.RequestToTarget < 0 {
				t.Errorf("timeout record: %+v", g)
			}

			// A service without subscriptions, in a network without: nothing.
			n := rec.count()
			expect(t, e.get(v, port, "quiet.example.com", "/quiet"), 200, "hello")
			time.Sleep(50 * time.Millisecond)
			if rec.count() != n {
				t.Errorf("a request to a service without subscriptions was logged")
			}
		})
	}
}

// A request the server refuses before routing (here two Host fields: 400)
// is in the network's access logs as a ClientProtocolError.
func TestAccessLogRejected(t *testing.T) {
	rec := new(recorder)
	e := newEnv(t, func(c *testConfig) { c.AccessLog = rec })
	be := newBackend(t, "b", nil)
	port := freePort(t, netip.MustParseAddr("127.0.0.1"))
	svc := service("svc-0rej", "", port, defaultRule(to(ipGroup("tg-rej", be.addr()))))
	sn := network("sn-0a000000000000002")
	sn.AccessLogs = []*snapshot.LogSubscription{{ID: "als-0net", ResourceID: sn.ID, DestinationARN: "arn:aws:s3:::b"}}
	v := vpcIn("vpc-0a000000000000002", nextIngress(), sn, svc)
	e.publish(snapshotOf(v))

	conn, err := net.Dial("tcp", netip.AddrPortFrom(v.Ingress, uint16(port)).String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /x HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || res.StatusCode != 400 {
		t.Fatalf("two Host fields: %v %v", res, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for rec.count() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the rejected request was not logged")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r := rec.recs[0]
	if g := r.e; g.Status != 400 || g.FailureReason != accesslog.ClientProtocolError || g.ServiceNetworkARN != sn.ARN ||
		g.SourceVPCID != v.ID || g.ServiceARN != "" || !g.Source.Addr().IsLoopback() || len(g.RequestID) != 36 || g.BytesSent == 0 {
		t.Errorf("record: %+v", g)
	}
	if len(r.svcSubs) != 0 || len(r.snSubs) != 1 || r.snSubs[0].ID != "als-0net" {
		t.Errorf("subscriptions: %v %v", r.svcSubs, r.snSubs)
	}
}
