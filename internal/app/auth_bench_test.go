package app_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// BenchmarkDataPlaneAuth compares requests through the data plane with
// auth off (auth type NONE) and on (AWS_IAM on the network and the service,
// both policies evaluated). The client sends the same SigV4-signed request
// in both cases (signed once and replayed, so the client's signing cost is
// not measured): the difference is the data plane's verification,
// evaluation and identity headers. Compare the two ns/op.
func BenchmarkDataPlaneAuth(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "auth-off"
		if on {
			name = "auth-on"
		}
		b.Run(name, func(b *testing.B) {
			w := newWorld(b, apptest.Options{})
			be := leanBackend(b)
			tg := w.targetGroup("bench", nil, be)
			need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
				Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18085), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
					TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(b)
			ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
			host := *w.svc.DnsEntry.DomainName
			allow := `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"` + w.s.Account + `"},"Action":"vpc-lattice-svcs:Invoke","Resource":"*",
				"Condition":{"StringEquals":{"vpc-lattice-svcs:RequestMethod":"GET"}}}]}`
			if on {
				for _, id := range []*string{w.sn.Id, w.svc.Id} {
					need(w.c.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: id, Policy: aws.String(allow)})).ok(b)
				}
				need(w.c.UpdateServiceNetwork(ctx, &vpclattice.UpdateServiceNetworkInput{ServiceNetworkIdentifier: w.sn.Id, AuthType: types.AuthTypeAwsIam})).ok(b)
				need(w.c.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: w.svc.Id, AuthType: types.AuthTypeAwsIam})).ok(b)
			}
			url := fmt.Sprintf("http://%s:%d/bench", ingress, 18085)
			tmpl, _ := http.NewRequest("GET", url, nil)
			tmpl.Host = host
			tmpl.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: w.s.AccessKeyID, SecretAccessKey: w.s.SecretAccessKey},
				tmpl, "UNSIGNED-PAYLOAD", "vpc-lattice-svcs", w.s.Region, time.Now()); err != nil {
				b.Fatal(err)
			}
			tr := &http.Transport{MaxIdleConnsPerHost: 64}
			c := &http.Client{Transport: tr}
			do := func() int {
				req := tmpl.Clone(ctx)
				resp, err := c.Do(req)
				if err != nil {
					return 0
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode
			}
			eventually(b, 5*time.Second, "config served", func() bool {
				if !on {
					return do() == 200
				}
				// auth in force: an unsigned request is denied, a signed one allowed
				req, _ := http.NewRequest("GET", url, nil)
				req.Host = host
				resp, err := c.Do(req)
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == 403 && do() == 200
			})
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if st := do(); st != 200 {
						b.Errorf("status %d", st)
						return
					}
				}
			})
			b.StopTimer()
			tr.CloseIdleConnections()
		})
	}
}

// leanBackend answers "ok" without recording anything, so the benchmark
// measures the data plane rather than the test backend's bookkeeping.
func leanBackend(b *testing.B) *backend {
	be := &backend{name: "ok"}
	be.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	b.Cleanup(be.srv.Close)
	return be
}
