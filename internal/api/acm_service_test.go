package api_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// A service's certificateArn must name a certificate of its account that
// covers its custom domain; a certificate in use cannot be deleted.
func TestACMServiceCertificate(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := acmAs(s, rootCreds(s))
	l := sdkAs(s, rootCreds(s))
	wild := aws.ToString(need(c.RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String("*.shop.example.com")})).ok(t).CertificateArn)
	exact := aws.ToString(need(c.RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String("pay.example.com")})).ok(t).CertificateArn)

	invalid := func(what string, err error, wantIn string) {
		t.Helper()
		ae := wantAPIError(t, err, "ValidationException")
		if !strings.Contains(ae.ErrorMessage(), "certificateArn") || !strings.Contains(ae.ErrorMessage(), wantIn) {
			t.Fatalf("%s: %s", what, ae.ErrorMessage())
		}
	}
	missing := wild[:len(wild)-12] + "000000000000"
	_, err := l.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("alpha"), CustomDomainName: aws.String("a.shop.example.com"), CertificateArn: &missing})
	invalid("unknown certificate", err, "names no certificate")
	_, err = l.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("alpha"), CustomDomainName: aws.String("a.b.shop.example.com"), CertificateArn: &wild})
	invalid("wildcard over two labels", err, "does not cover")
	_, err = l.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("alpha"), CustomDomainName: aws.String("shop.example.com"), CertificateArn: &wild})
	invalid("wildcard over the apex", err, "does not cover")
	_, err = l.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("alpha"), CustomDomainName: aws.String("a.shop.example.com"),
		CertificateArn: aws.String("arn:aws:acm:us-east-1:" + s.Account + ":certificate/x")})
	invalid("malformed ARN", err, "not an ACM certificate ARN")
	if got := need(l.ListServices(ctx, &vpclattice.ListServicesInput{})).ok(t).Items; len(got) != 0 {
		t.Fatalf("refused creates made %d services", len(got))
	}

	svc := need(l.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("shop"), CustomDomainName: aws.String("WWW.shop.example.com"), CertificateArn: &wild})).ok(t)
	// Update to a certificate that does not cover it: refused, unchanged.
	_, err = l.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: svc.Id, CertificateArn: &exact})
	invalid("update to a certificate for another name", err, "does not cover")
	if got := need(l.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: svc.Id})).ok(t); aws.ToString(got.CertificateArn) != wild {
		t.Fatalf("certificateArn after a refused update: %s", aws.ToString(got.CertificateArn))
	}

	d := need(c.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: &wild})).ok(t).Certificate
	if !slices.Equal(d.InUseBy, []string{aws.ToString(svc.Arn)}) {
		t.Fatalf("InUseBy %v", d.InUseBy)
	}
	list := need(c.ListCertificates(ctx, &acm.ListCertificatesInput{})).ok(t).CertificateSummaryList
	for _, it := range list {
		if aws.ToBool(it.InUse) != (aws.ToString(it.CertificateArn) == wild) {
			t.Errorf("InUse of %s: %v", aws.ToString(it.CertificateArn), aws.ToBool(it.InUse))
		}
	}
	_, err = c.DeleteCertificate(ctx, &acm.DeleteCertificateInput{CertificateArn: &wild})
	var riu *acmtypes.ResourceInUseException
	if !errors.As(err, &riu) {
		t.Fatalf("delete in use: %v, want ResourceInUseException", err)
	}
	// A re-import must keep covering the domain of the services using it.
	iss := testIssuer(t)
	www := issued(t, iss, "www.shop.example.com")
	imp := need(c.ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: www.CertPEM, PrivateKey: www.KeyPEM})).ok(t).CertificateArn
	need(l.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: svc.Id, CertificateArn: imp})).ok(t)
	other := issued(t, iss, "other.example.com")
	_, err = c.ImportCertificate(ctx, &acm.ImportCertificateInput{CertificateArn: imp, Certificate: other.CertPEM, PrivateKey: other.KeyPEM})
	var ve *acmtypes.ValidationException
	if !errors.As(err, &ve) || !strings.Contains(strings.ToLower(ve.ErrorMessage()), "www.shop.example.com") {
		t.Fatalf("re-import not covering the service: %v", err)
	}
	if g := need(c.GetCertificate(ctx, &acm.GetCertificateInput{CertificateArn: imp})).ok(t); aws.ToString(g.Certificate) != string(www.CertPEM) {
		t.Fatal("a refused re-import changed the certificate")
	}
	wider := issued(t, iss, "*.shop.example.com")
	need(c.ImportCertificate(ctx, &acm.ImportCertificateInput{CertificateArn: imp, Certificate: wider.CertPEM, PrivateKey: wider.KeyPEM})).ok(t)
	// The wildcard certificate is free now and can be deleted.
	need(c.DeleteCertificate(ctx, &acm.DeleteCertificateInput{CertificateArn: &wild})).ok(t)
	// Detached (certificateArn ""), the imported one can be deleted too.
	need(l.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: svc.Id, CertificateArn: aws.String("")})).ok(t)
	need(c.DeleteCertificate(ctx, &acm.DeleteCertificateInput{CertificateArn: imp})).ok(t)
}

// Another account's certificates are invisible: every operation answers
// ResourceNotFoundException, its list leaves them out, and its services
// cannot use them.
func TestACMCrossAccount(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	a, b := acmAs(s, newAccountWithUser(t, s, acctA, "alice")), acmAs(s, newAccountWithUser(t, s, acctB, "bob"))
	arn := aws.ToString(need(a.RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String("a.example.com")})).ok(t).CertificateArn)
	if !strings.Contains(arn, ":"+acctA+":") {
		t.Fatalf("ARN %s is not in the caller's account", arn)
	}
	var rnf *acmtypes.ResourceNotFoundException
	check := func(op string, err error) {
		t.Helper()
		if !errors.As(err, &rnf) {
			t.Errorf("B %s A's certificate: %v, want ResourceNotFoundException", op, err)
		}
	}
	_, err := b.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: &arn})
	check("describes", err)
	_, err = b.GetCertificate(ctx, &acm.GetCertificateInput{CertificateArn: &arn})
	check("gets", err)
	_, err = b.DeleteCertificate(ctx, &acm.DeleteCertificateInput{CertificateArn: &arn})
	check("deletes", err)
	_, err = b.AddTagsToCertificate(ctx, &acm.AddTagsToCertificateInput{CertificateArn: &arn, Tags: []acmtypes.Tag{{Key: aws.String("x"), Value: aws.String("y")}}})
	check("tags", err)
	_, err = b.RemoveTagsFromCertificate(ctx, &acm.RemoveTagsFromCertificateInput{CertificateArn: &arn, Tags: []acmtypes.Tag{{Key: aws.String("x")}}})
	check("untags", err)
	_, err = b.ListTagsForCertificate(ctx, &acm.ListTagsForCertificateInput{CertificateArn: &arn})
	check("lists the tags of", err)
	iss := testIssuer(t)
	l := issued(t, iss, "a.example.com")
	_, err = b.ImportCertificate(ctx, &acm.ImportCertificateInput{CertificateArn: &arn, Certificate: l.CertPEM, PrivateKey: l.KeyPEM})
	check("re-imports over", err)
	if got := need(b.ListCertificates(ctx, &acm.ListCertificatesInput{})).ok(t).CertificateSummaryList; len(got) != 0 {
		t.Errorf("B lists %d certificates", len(got))
	}
	// Still A's, unchanged.
	d := need(a.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: &arn})).ok(t).Certificate
	if d.Type != acmtypes.CertificateTypeAmazonIssued {
		t.Fatalf("A's certificate changed: %s", d.Type)
	}
	if tags := need(a.ListTagsForCertificate(ctx, &acm.ListTagsForCertificateInput{CertificateArn: &arn})).ok(t).Tags; len(tags) != 0 {
		t.Fatalf("B tagged A's certificate: %+v", tags)
	}
}
