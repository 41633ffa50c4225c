package app_test

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/gorilla/websocket"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// TestWebSocketEndToEnd: a WebSocket through an HTTP listener configured
// through the API, to a gorilla/websocket echo target (docs/protocols.md).
func TestWebSocketEndToEnd(t *testing.T) {
	w := newWorld(t, apptest.Options{})
	var target atomic.Pointer[string]
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if !websocket.IsWebSocketUpgrade(r) {
			rw.WriteHeader(http.StatusOK) // health checks
			return
		}
		v := r.Header.Get("X-Amzn-Lattice-Target") + " proto=" + r.Header.Get("X-Forwarded-Proto")
		target.Store(&v)
		c, err := up.Upgrade(rw, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			typ, m, err := c.ReadMessage()
			if err != nil || c.WriteMessage(typ, append([]byte("echo:"), m...)) != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	port := int32(srv.Listener.Addr().(*net.TCPAddr).Port)
	tg := need(w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String("ws-echo"), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp,
			VpcIdentifier: aws.String("vpc-0000000000000000f")}})).ok(t)
	need(w.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id,
		Targets: []types.Target{{Id: aws.String("127.0.0.1"), Port: aws.Int32(port)}}})).ok(t)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("ws-listener"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18098), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	// And an HTTPS listener (TLS terminated by the ingress) to the same
	// group: the generated name has a certificate of the installation CA.
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("wss-listener"),
		Protocol: types.ListenerProtocolHttps, Port: aws.Int32(18099), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	dnsName := *w.svc.DnsEntry.DomainName

	for _, tc := range []struct {
		name, url, host, proto string
	}{
		{"HTTP listener", "ws://" + net.JoinHostPort(ingress, strconv.Itoa(18098)) + "/live", "orders.internal", "http"},
		{"HTTPS listener", "wss://" + net.JoinHostPort(ingress, strconv.Itoa(18099)) + "/live", dnsName, "https"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target.Store(nil)
			// The certificate chain is tested elsewhere (acm_test.go,
			// tlsterm); here the name is what matters (SNI = Host).
			d := websocket.Dialer{HandshakeTimeout: 5 * time.Second,
				TLSClientConfig: &tls.Config{ServerName: dnsName, InsecureSkipVerify: true}} //nolint:gosec // see above
			var c *websocket.Conn
			eventually(t, 5*time.Second, "WebSocket upgrade through the listener", func() bool {
				var err error
				c, _, err = d.Dial(tc.url, http.Header{"Host": {tc.host}})
				return err == nil
			})
			defer c.Close()
			if err := c.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, m, err := c.ReadMessage(); err != nil || string(m) != "echo:hi" {
				t.Fatalf("%q %v", m, err)
			}
			if v := target.Load(); v == nil || !strings.HasPrefix(*v, "ServiceArn=") || !strings.HasSuffix(*v, " proto="+tc.proto) {
				t.Fatalf("the target got X-Amzn-Lattice-Target and X-Forwarded-Proto %v", v)
			}
		})
	}
}
