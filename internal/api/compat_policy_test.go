package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// TestGetPolicyWithoutPolicy: GetAuthPolicy and GetResourcePolicy of a
// network or service that has no policy answer 200 without a policy member
// (Terraform's provider relies on it); GetAuthPolicy still says the state.
// Only a resource that does not exist is a ResourceNotFoundException.
func TestGetPolicyWithoutPolicy(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := newClient(s)
	svc := need(c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("nopolicy")})).ok(t)
	sn := need(c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("nopolicy"), AuthType: types.AuthTypeAwsIam})).ok(t)
	for _, tc := range []struct {
		ident string
		state types.AuthPolicyState
	}{{*svc.Id, types.AuthPolicyStateInactive}, {*svc.Arn, types.AuthPolicyStateInactive}, {*sn.Id, types.AuthPolicyStateActive}} {
		ap := need(c.GetAuthPolicy(ctx, &vpclattice.GetAuthPolicyInput{ResourceIdentifier: aws.String(tc.ident)})).ok(t)
		if ap.Policy != nil || ap.CreatedAt != nil || ap.LastUpdatedAt != nil || ap.State != tc.state {
			t.Fatalf("GetAuthPolicy %s without a policy: %+v", tc.ident, ap)
		}
		st, _, body := raw(t, s, "GET", "/authpolicy/"+url.PathEscape(tc.ident), nil)
		var m map[string]any
		if err := json.Unmarshal(body, &m); st != http.StatusOK || err != nil || len(m) != 1 || m["state"] != string(tc.state) {
			t.Fatalf("GetAuthPolicy wire: %d %s", st, body)
		}
	}
	for _, arn := range []*string{svc.Arn, sn.Arn} {
		rp := need(c.GetResourcePolicy(ctx, &vpclattice.GetResourcePolicyInput{ResourceArn: arn})).ok(t)
		if rp.Policy != nil {
			t.Fatalf("GetResourcePolicy %s without a policy: %q", *arn, *rp.Policy)
		}
	}
	// Deleting a policy brings the same answer back.
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"*"}]}`
	need(c.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: sn.Arn, Policy: aws.String(policy)})).ok(t)
	if ap := need(c.GetAuthPolicy(ctx, &vpclattice.GetAuthPolicyInput{ResourceIdentifier: sn.Id})).ok(t); ap.Policy == nil || *ap.Policy != policy || ap.CreatedAt == nil {
		t.Fatalf("GetAuthPolicy with a policy: %+v", ap)
	}
	need(c.DeleteAuthPolicy(ctx, &vpclattice.DeleteAuthPolicyInput{ResourceIdentifier: sn.Id})).ok(t)
	if ap := need(c.GetAuthPolicy(ctx, &vpclattice.GetAuthPolicyInput{ResourceIdentifier: sn.Id})).ok(t); ap.Policy != nil || ap.State != types.AuthPolicyStateActive {
		t.Fatalf("GetAuthPolicy after delete: %+v", ap)
	}
	// A resource that does not exist.
	missing := "svc-0123456789abcdef0"
	_, err := c.GetAuthPolicy(ctx, &vpclattice.GetAuthPolicyInput{ResourceIdentifier: aws.String(missing)})
	var nf *types.ResourceNotFoundException
	if !errorsAs(err, &nf) || *nf.ResourceId != missing {
		t.Fatalf("GetAuthPolicy of a missing service: %v", err)
	}
	_, err = c.GetResourcePolicy(ctx, &vpclattice.GetResourcePolicyInput{
		ResourceArn: aws.String("arn:aws:vpc-lattice:" + s.Region + ":" + s.Account + ":servicenetwork/sn-0123456789abcdef0")})
	wantAPIError(t, err, "ResourceNotFoundException")
}
