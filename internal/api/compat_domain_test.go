package api_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// TestCustomDomainUniquePerNetwork: services may share a custom domain name
// (CreateService accepts a duplicate); a service network may not hold two
// services with the same one, so the association that would do it is a
// ConflictException naming the domain and the other service.
func TestCustomDomainUniquePerNetwork(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := newClient(s)
	svc := func(name, domain string) *vpclattice.CreateServiceOutput {
		t.Helper()
		in := &vpclattice.CreateServiceInput{Name: aws.String(name)}
		if domain != "" {
			in.CustomDomainName = aws.String(domain)
		}
		return need(c.CreateService(ctx, in)).ok(t)
	}
	blue := svc("blue", "api.example.com")
	green := svc("green", "API.Example.com") // the same name: DNS names have no case
	plain := svc("plain", "")
	sn1 := need(c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("one")})).ok(t)
	sn2 := need(c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("two")})).ok(t)
	associate := func(sn, svc *string) (*vpclattice.CreateServiceNetworkServiceAssociationOutput, error) {
		return c.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
			ServiceNetworkIdentifier: sn, ServiceIdentifier: svc})
	}
	need(associate(sn1.Id, blue.Id)).ok(t)
	need(associate(sn1.Id, plain.Id)).ok(t)
	a2 := need(associate(sn2.Arn, green.Arn)).ok(t) // each network has one: fine
	_, err := associate(sn1.Id, green.Id)
	wantAPIError(t, err, "ConflictException")
	var ce *types.ConflictException
	if !errorsAs(err, &ce) || *ce.ResourceId != *blue.Id || !strings.Contains(*ce.Message, "API.Example.com") ||
		!strings.Contains(*ce.Message, *blue.Id) {
		t.Fatalf("conflict %v", err)
	}
	// Nothing was created.
	l := need(c.ListServiceNetworkServiceAssociations(ctx, &vpclattice.ListServiceNetworkServiceAssociationsInput{ServiceIdentifier: green.Id})).ok(t)
	if len(l.Items) != 1 || *l.Items[0].Id != *a2.Id {
		t.Fatalf("green's associations %+v", l.Items)
	}
	// Once blue leaves the network, green may join it.
	bl := need(c.ListServiceNetworkServiceAssociations(ctx, &vpclattice.ListServiceNetworkServiceAssociationsInput{ServiceIdentifier: blue.Id})).ok(t)
	need(c.DeleteServiceNetworkServiceAssociation(ctx, &vpclattice.DeleteServiceNetworkServiceAssociationInput{
		ServiceNetworkServiceAssociationIdentifier: bl.Items[0].Id})).ok(t)
	need(associate(sn1.Id, green.Id)).ok(t)
	_, err = associate(sn1.Id, blue.Id)
	wantAPIError(t, err, "ConflictException")
}
