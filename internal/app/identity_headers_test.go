package app_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// nativeCall sends a SigV4-signed request (the root's) to a /trellis/v1/
// endpoint and returns the status, the error type and the body.
func nativeCall(t *testing.T, s *apptest.Server, method, path string, body any) (int, string, []byte) {
	t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest(method, s.Endpoint+path, bytes.NewReader(b))
	sum := sha256.Sum256(b)
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey},
		req, hex.EncodeToString(sum[:]), "vpc-lattice", s.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), out
}

// splitIdentityHeader decodes an identity header as a target would (the
// encoding of internal/snapshot/identity_headers.go): fields split on
// unescaped ';', each on its first unescaped '=', "\x" read as "x".
func splitIdentityHeader(t *testing.T, h string) [][2]string {
	t.Helper()
	var out [][2]string
	var key, cur strings.Builder
	inKey := true
	flush := func() {
		if inKey {
			t.Fatalf("field without '=' in %q", h)
		}
		out = append(out, [2]string{key.String(), cur.String()})
		key.Reset()
		cur.Reset()
		inKey = true
	}
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case c == '\\' && i+1 < len(h):
			i++
			cur.WriteByte(h[i])
		case c == ';':
			flush()
		case c == '=' && inKey:
			key.WriteString(cur.String())
			cur.Reset()
			inKey = false
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

// TestDataPlaneIdentityHeaderInjection is finding 1 of issue 10 end to end:
// a tenant cannot put a header into a target's request through its tags,
// nor a second principal into the identity headers through a tag key or its
// path.
func TestDataPlaneIdentityHeaderInjection(t *testing.T) {
	w := newWorld(t, apptest.Options{})
	b := newBackend(t, "orders")
	tg := w.targetGroup("orders", nil, b)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18137), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	host := *w.svc.DnsEntry.DomainName
	need(w.c.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: w.sn.Id, Policy: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*",
		  "Condition":{"StringEquals":{"aws:PrincipalType":"User"}}}]}`)})).ok(t)
	need(w.c.UpdateServiceNetwork(ctx, &vpclattice.UpdateServiceNetworkInput{ServiceNetworkIdentifier: w.sn.Id, AuthType: types.AuthTypeAwsIam})).ok(t)

	const account = "111122223333"
	if st, typ, body := nativeCall(t, w.s, "PUT", "/trellis/v1/accounts/"+account, nil); st != 201 {
		t.Fatalf("account: %d %s %s", st, typ, body)
	}
	// IAM allows ';' and '=' in a path: this user's ARN spells a second principal.
	user := "arn:aws:iam::" + account + ":user/;Principal=arn:aws:iam::999999999999:root;/mallory"
	upath := "/trellis/v1/principals/" + url.PathEscape(user)
	if st, typ, body := nativeCall(t, w.s, "PUT", upath, map[string]any{"tags": map[string]string{"team": "blue", "k=principal": "x"}}); st != 201 {
		t.Fatalf("user: %d %s %s", st, typ, body)
	}
	// The tags of the attack are refused and change nothing.
	for _, tags := range []map[string]string{
		{"team": "blue\r\nX-Injected: yes\r\nContent-Length: 0\r\n\r\nGET /admin/users HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"k;principal": "arn:aws:iam::999999999999:root"},
		{"principal": "arn:aws:iam::999999999999:root"},
	} {
		st, typ, body := nativeCall(t, w.s, "PUT", upath, map[string]any{"tags": tags})
		if st != 400 || typ != "ValidationException" || !strings.Contains(string(body), `"name":"tags"`) {
			t.Fatalf("tags %q: %d %s %s", tags, st, typ, body)
		}
	}
	st, typ, body := nativeCall(t, w.s, "POST", upath+"/accesskeys", nil)
	if st != 201 {
		t.Fatalf("key: %d %s %s", st, typ, body)
	}
	var key struct{ AccessKeyID, SecretAccessKey string }
	if err := json.Unmarshal(body, &key); err != nil {
		t.Fatal(err)
	}
	creds := &aws.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}

	// AWS_IAM in force first (an unsigned call refused), or a 200 could come
	// from the snapshot before it, with no identity to send.
	eventually(t, 5*time.Second, "AWS_IAM in force", func() bool {
		st, _ := signedCall(t, w.s, ingress, 18137, host, "GET", "/orders", nil)
		return st == 403
	})
	eventually(t, 5*time.Second, "the user's key and the policy in force", func() bool {
		st, _ := signedCall(t, w.s, ingress, 18137, host, "GET", "/orders", creds)
		return st == 200
	})
	b.mu.Lock()
	seen := b.last
	b.mu.Unlock()
	if v := seen.Values("X-Injected"); len(v) != 0 {
		t.Fatalf("injected header reached the target: %q", v)
	}
	ident, tags := seen.Values("X-Amzn-Lattice-Identity"), seen.Values("X-Amzn-Lattice-Identity-Tags")
	if len(ident) != 1 || len(tags) != 1 {
		t.Fatalf("identity headers: %q / %q (all: %v)", ident, tags, seen)
	}
	wantIdent := [][2]string{{"Principal", user}, {"Type", "AWS_IAM"}}
	if got := splitIdentityHeader(t, ident[0]); !equalFields(got, wantIdent) {
		t.Fatalf("x-amzn-lattice-identity %q decodes to %q, want %q", ident[0], got, wantIdent)
	}
	wantTags := [][2]string{{"principal", user}, {"k=principal", "x"}, {"team", "blue"}}
	if got := splitIdentityHeader(t, tags[0]); !equalFields(got, wantTags) {
		t.Fatalf("x-amzn-lattice-identity-tags %q decodes to %q, want %q", tags[0], got, wantTags)
	}
}

func equalFields(a, b [][2]string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
