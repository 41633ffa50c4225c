package app_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	httpauthcreds "github.com/aws/smithy-go/aws-http-auth/credentials"
	"github.com/aws/smithy-go/aws-http-auth/sigv4a"
	httpauthv4 "github.com/aws/smithy-go/aws-http-auth/v4"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// signedCall sends a request through the ingress, signed for the data
// plane (vpc-lattice-svcs, UNSIGNED-PAYLOAD) when creds is not nil.
func signedCall(t testing.TB, s *apptest.Server, ingress string, port int, host, method, path string, creds *aws.Credentials) (int, string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var resp *http.Response
	for {
		req, _ := http.NewRequest(method, fmt.Sprintf("http://%s:%d%s", ingress, port, path), strings.NewReader("payload"))
		req.Host = host
		if creds != nil {
			req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
			if err := v4.NewSigner().SignHTTP(ctx, *creds, req, "UNSIGNED-PAYLOAD", "vpc-lattice-svcs", s.Region, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		var err error
		if resp, err = client.Do(req); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err) // the ingress never opened
		}
		time.Sleep(20 * time.Millisecond)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestDataPlaneAuthPolicies(t *testing.T) {
	w := newWorld(t, apptest.Options{})
	b := newBackend(t, "secret-data")
	tg := w.targetGroup("api", nil, b)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18084), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	host := *w.svc.DnsEntry.DomainName
	root := &aws.Credentials{AccessKeyID: w.s.AccessKeyID, SecretAccessKey: w.s.SecretAccessKey}

	// Before auth is on, anyone gets through.
	eventually(t, 3*time.Second, "service reachable", func() bool {
		st, _ := signedCall(t, w.s, ingress, 18084, host, "GET", "/", nil)
		return st == 200
	})

	netPolicy := func(account string) string {
		return `{"Version":"2012-10-17","Statement":[{"Sid":"AccountOnly","Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*",
			"Condition":{"StringEquals":{"aws:PrincipalAccount":"` + account + `"}}}]}`
	}
	svcPolicy := `{"Version":"2012-10-17","Statement":[
		{"Sid":"ReadOnly","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + w.s.Account + `:root"},"Action":"vpc-lattice-svcs:Invoke","Resource":"*",
		 "Condition":{"StringEquals":{"vpc-lattice-svcs:RequestMethod":"GET"}}},
		{"Sid":"NoAdmin","Effect":"Deny","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"` + *w.svc.Arn + `/admin/*"}]}`
	need(w.c.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: w.sn.Id, Policy: aws.String(netPolicy(w.s.Account))})).ok(t)
	need(w.c.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: w.svc.Id, Policy: aws.String(svcPolicy)})).ok(t)
	need(w.c.UpdateServiceNetwork(ctx, &vpclattice.UpdateServiceNetworkInput{ServiceNetworkIdentifier: w.sn.Id, AuthType: types.AuthTypeAwsIam})).ok(t)
	need(w.c.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: w.svc.Id, AuthType: types.AuthTypeAwsIam})).ok(t)

	// Both levels are AWS_IAM once a signed POST (allowed by the network,
	// not by the service) is denied.
	eventually(t, 3*time.Second, "both auth types in force", func() bool {
		st, _ := signedCall(t, w.s, ingress, 18084, host, "POST", "/", root)
		return st == 403
	})
	st, body := signedCall(t, w.s, ingress, 18084, host, "GET", "/", nil)
	if !strings.Contains(body, "AccessDeniedException") || !strings.Contains(body, "anonymous") {
		t.Fatalf("unsigned: %d %q", st, body)
	}
	if st, body := signedCall(t, w.s, ingress, 18084, host, "GET", "/orders", root); st != 200 || body != "secret-data" {
		t.Fatalf("signed GET allowed by the service policy: %d %q", st, body)
	}
	b.mu.Lock()
	ident, tags := b.last.Get("X-Amzn-Lattice-Identity"), b.last.Get("X-Amzn-Lattice-Identity-Tags")
	b.mu.Unlock()
	if !strings.Contains(ident, "Principal=arn:aws:iam::"+w.s.Account+":root") || !strings.HasPrefix(tags, "principal=arn:aws:iam::") {
		t.Fatalf("identity headers: %q / %q", ident, tags)
	}
	if st, body := signedCall(t, w.s, ingress, 18084, host, "POST", "/orders", root); st != 403 || !strings.Contains(body, "service-based") {
		t.Fatalf("POST denied by the method condition: %d %q", st, body)
	}
	if st, body := signedCall(t, w.s, ingress, 18084, host, "GET", "/admin/users", root); st != 403 || !strings.Contains(body, "NoAdmin") {
		t.Fatalf("explicit deny on /admin/*: %d %q", st, body)
	}
	// SigV4A (ECDSA P-256), signed by smithy-go's signer for any region.
	if st, body := sigv4aCall(t, w.s, ingress, 18084, host, "/orders", w.s.SecretAccessKey); st != 200 || body != "secret-data" {
		t.Fatalf("SigV4A GET: %d %q", st, body)
	}
	if st, _ := sigv4aCall(t, w.s, ingress, 18084, host, "/orders", "not-the-secret"); st != 403 {
		t.Fatalf("SigV4A with a wrong secret: %d", st)
	}
	wrong := &aws.Credentials{AccessKeyID: w.s.AccessKeyID, SecretAccessKey: "wrong-secret"}
	if st, body := signedCall(t, w.s, ingress, 18084, host, "GET", "/orders", wrong); st != 403 || !strings.Contains(body, "InvalidSignatureException") {
		t.Fatalf("wrong secret: %d %q", st, body)
	}
	// A network policy that excludes the caller's account denies, whatever the service allows.
	need(w.c.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: w.sn.Id, Policy: aws.String(netPolicy("999999999999"))})).ok(t)
	eventually(t, 3*time.Second, "network policy denies", func() bool {
		st, body := signedCall(t, w.s, ingress, 18084, host, "GET", "/orders", root)
		return st == 403 && strings.Contains(body, "network-based")
	})
	// An invalid policy is refused at PutAuthPolicy with what is wrong.
	_, err := w.c.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: w.svc.Id,
		Policy: aws.String(`{"Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*","Condition":{"StringEqualz":{"a":"b"}}}]}`)})
	var ve *types.ValidationException
	if err == nil || !asErr(err, &ve) || !strings.Contains(*ve.Message, "StringEqualz") {
		t.Fatalf("invalid policy: %v", err)
	}
}

func sigv4aCall(t testing.TB, s *apptest.Server, ingress string, port int, host, path, secret string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s:%d%s", ingress, port, path), nil)
	req.Host = host
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	err := sigv4a.New().SignRequest(&sigv4a.SignRequestInput{Request: req, PayloadHash: httpauthv4.UnsignedPayload(),
		Credentials: httpauthcreds.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: secret},
		Service:     "vpc-lattice-svcs", RegionSet: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
