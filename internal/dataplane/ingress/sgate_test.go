package ingress

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// sgRulesOf compiles the rule set of one group with rules, through the
// snapshot compiler (the only way to make one).
func sgRulesOf(t testing.TB, rules ...model.SecurityGroupRule) *snapshot.SGRules {
	t.Helper()
	a := &model.ServiceNetworkVpcAssociation{VpcID: "vpc-0000000a", ServiceNetworkID: "sn-1", SecurityGroupIDs: []string{"sg-0000000a"}}
	a.Account = account
	st := &snapshot.State{
		VPCs:           []*model.VPC{{ID: "vpc-0000000a", Account: account, Mode: "host", IngressAddress: "127.171.0.1"}},
		SNVAs:          []*model.ServiceNetworkVpcAssociation{a},
		SecurityGroups: []*model.SecurityGroup{{ID: "sg-0000000a", VpcID: "vpc-0000000a", Account: account, Ingress: rules}},
	}
	r := snapshot.Compile(st, snapshot.Options{}).VPCs["vpc-0000000a"].SecurityGroups
	if r == nil {
		t.Fatal("no rule set compiled")
	}
	return r
}

func tcpFrom(cidr string, port int) model.SecurityGroupRule {
	return model.SecurityGroupRule{Protocol: "tcp", FromPort: port, ToPort: port, CIDR: cidr}
}

// rawGet sends one HTTP/1.1 request from the local address from and
// returns every byte the ingress wrote back (none, with an error, when the
// connection was refused).
func rawGet(t testing.TB, from netip.Addr, to netip.AddrPort, host string) (string, error) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: from.AsSlice()}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", to.String())
	if err != nil {
		// A refused connection is reset at once; on loopback the reset
		// can beat the end of connect. Either way the client got nothing.
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n")
	b, err := io.ReadAll(c)
	return string(b), err
}

// countingHandler counts log records with a message.
type countingHandler struct {
	msg string
	n   *atomic.Int64
}

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

// Security groups gate every accepted connection, whichever server serves
// the socket: a source no rule admits gets no byte and reaches no target;
// a new snapshot changes the verdict for the next connection.
func TestSecurityGroupsAtAccept(t *testing.T) {
	for _, std := range []bool{false, true} {
		name := map[bool]string{false: "h1server", true: "net/http"}[std]
		t.Run(name, func(t *testing.T) {
			var logged atomic.Int64
			e := newEnv(t, func(c *Config) {
				c.StdServer = std
				c.Logger = slog.New(countingHandler{msg: "security groups refused a connection", n: &logged})
			})
			ip := nextIngress()
			port := freePort(t, ip)
			v := vpcAt("vpc-0a000000000000001", ip, port)
			v.SecurityGroups = sgRulesOf(t, tcpFrom("127.0.0.2/32", port))
			e.publish(snapshotOf(v))
			dst := netip.AddrPortFrom(ip, uint16(port))
			c2, c3 := netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.3")

			if body, err := rawGet(t, c2, dst, "svc.example"); err != nil || !strings.HasPrefix(body, "HTTP/1.1 200") || !strings.HasSuffix(body, "b") {
				t.Fatalf("admitted client: %v %q", err, body)
			}
			for i := 0; i < 20; i++ {
				if body, _ := rawGet(t, c3, dst, "svc.example"); body != "" {
					t.Fatalf("refused client got %q", body)
				}
			}
			// A client whose connect was reset returns before Accept counts it.
			eventuallyTrue(t, func() bool { return e.in.SecurityGroupRefused() == 20 })
			if n := e.hits.Load(); n != 1 {
				t.Fatalf("target saw %d requests, want only the admitted one", n)
			}
			if n := e.in.SecurityGroupRefused(); n != 20 {
				t.Fatalf("refused counter %d, want 20", n)
			}
			if n := logged.Load(); n != 1 {
				t.Fatalf("%d log lines for 20 refusals within the log interval, want 1", n)
			}

			// The other port of the same source is not admitted either.
			v2 := vpcAt(v.ID, ip, port)
			v2.SecurityGroups = sgRulesOf(t, tcpFrom("127.0.0.2/32", port+1))
			e.holder.Store(snapshotOf(v2)) // no Sync: the socket stays, the rules change
			if body, _ := rawGet(t, c2, dst, "svc.example"); body != "" {
				t.Fatalf("a rule for another port admitted: %q", body)
			}
			// Flip: 127.0.0.3 admitted, 127.0.0.2 not.
			v3 := vpcAt(v.ID, ip, port)
			v3.SecurityGroups = sgRulesOf(t, tcpFrom("127.0.0.3/32", port))
			e.holder.Store(snapshotOf(v3))
			if body, err := rawGet(t, c3, dst, "svc.example"); err != nil || !strings.HasPrefix(body, "HTTP/1.1 200") {
				t.Fatalf("after the flip, 127.0.0.3: %v %q", err, body)
			}
			if body, _ := rawGet(t, c2, dst, "svc.example"); body != "" {
				t.Fatalf("after the flip, 127.0.0.2 got %q", body)
			}
			// No groups: everyone, as before security groups.
			e.holder.Store(snapshotOf(vpcAt(v.ID, ip, port)))
			if body, err := rawGet(t, c2, dst, "svc.example"); err != nil || !strings.HasPrefix(body, "HTTP/1.1 200") {
				t.Fatalf("without groups: %v %q", err, body)
			}
			if n := e.hits.Load(); n != 3 {
				t.Fatalf("target saw %d requests, want 3", n)
			}
		})
	}
}

// An h2c connection with prior knowledge is handed from the HTTP/1.x
// server to the HTTP/2 server after accept; it is gated all the same.
func TestSecurityGroupsGateH2C(t *testing.T) {
	e := newEnv(t, nil)
	ip := nextIngress()
	port := freePort(t, ip)
	v := vpcAt("vpc-0a000000000000001", ip, port)
	v.SecurityGroups = sgRulesOf(t, tcpFrom("127.0.0.2/32", port))
	e.publish(snapshotOf(v))
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}}
	if c, err := d.Dial("tcp", netip.AddrPortFrom(ip, uint16(port)).String()); err == nil {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
		if got, _ := io.ReadAll(c); len(got) != 0 {
			t.Fatalf("a refused h2c client got %d bytes (a SETTINGS frame means it was served)", len(got))
		}
	} // else reset during connect (see rawGet): nothing either
	eventuallyTrue(t, func() bool { return e.in.SecurityGroupRefused() == 1 })
	if e.in.SecurityGroupRefused() != 1 || e.hits.Load() != 0 {
		t.Fatalf("refused %d, target hits %d", e.in.SecurityGroupRefused(), e.hits.Load())
	}
}

// eventuallyTrue polls f for up to 10 s (the accept loop counts a refusal
// after the client may already have seen the reset).
func eventuallyTrue(t testing.TB, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !f(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
