package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/model"
)

var ctx = context.Background()

func TestServiceNetworkLifecycle(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := newClient(s)

	created := need(c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{
		Name: aws.String("payments"), AuthType: types.AuthTypeAwsIam, Tags: map[string]string{"team": "pay"}})).ok(t)
	if !regexp.MustCompile(`^sn-[0-9a-f]{17}$`).MatchString(*created.Id) {
		t.Fatalf("id %q", *created.Id)
	}
	wantARN := fmt.Sprintf("arn:aws:vpc-lattice:%s:%s:servicenetwork/%s", s.Region, s.Account, *created.Id)
	if *created.Arn != wantARN || created.AuthType != types.AuthTypeAwsIam || *created.Name != "payments" {
		t.Fatalf("created %+v", created)
	}
	// By ID and by ARN (the SDK escapes the ARN into one path segment).
	for _, ident := range []string{*created.Id, *created.Arn} {
		got := need(c.GetServiceNetwork(ctx, &vpclattice.GetServiceNetworkInput{ServiceNetworkIdentifier: aws.String(ident)})).ok(t)
		if *got.Id != *created.Id || got.CreatedAt == nil || got.LastUpdatedAt == nil || *got.NumberOfAssociatedServices != 0 {
			t.Fatalf("get by %s: %+v", ident, got)
		}
	}
	upd := need(c.UpdateServiceNetwork(ctx, &vpclattice.UpdateServiceNetworkInput{
		ServiceNetworkIdentifier: created.Arn, AuthType: types.AuthTypeNone})).ok(t)
	if upd.AuthType != types.AuthTypeNone {
		t.Fatalf("update: %+v", upd)
	}
	list := need(c.ListServiceNetworks(ctx, &vpclattice.ListServiceNetworksInput{})).ok(t)
	if len(list.Items) != 1 || *list.Items[0].Id != *created.Id {
		t.Fatalf("list: %+v", list.Items)
	}
	_, err := c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("payments")})
	wantAPIError(t, err, "ConflictException")
	need(c.DeleteServiceNetwork(ctx, &vpclattice.DeleteServiceNetworkInput{ServiceNetworkIdentifier: created.Id})).ok(t)
	_, err = c.GetServiceNetwork(ctx, &vpclattice.GetServiceNetworkInput{ServiceNetworkIdentifier: created.Id})
	var nf *types.ResourceNotFoundException
	if !errorsAs(err, &nf) || *nf.ResourceId != *created.Id || *nf.ResourceType == "" {
		t.Fatalf("get after delete: %v", err)
	}
}

func TestNameValidation(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := newClient(s)
	cases := []struct{ name, value string }{
		{"uppercase", "Orders"},
		{"too short", "ab"},
		{"too long", "a234567890123456789012345678901234567890x"},
		{"leading hyphen", "-orders"},
		{"trailing hyphen", "orders-"},
		{"double hyphen", "ord--ers"},
		{"reserved prefix", "svc-orders"},
		{"underscore", "ord_ers"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String(tc.value)})
			var ve *types.ValidationException
			if !errorsAs(err, &ve) {
				t.Fatalf("CreateService(%q): want ValidationException, got %v", tc.value, err)
			}
			if len(ve.FieldList) == 0 || *ve.FieldList[0].Name != "name" || ve.Reason != types.ValidationExceptionReasonFieldValidationFailed {
				t.Fatalf("fieldList %+v reason %q", ve.FieldList, ve.Reason)
			}
		})
	}
	// Nothing was created by the rejected requests.
	list := need(c.ListServices(ctx, &vpclattice.ListServicesInput{})).ok(t)
	if len(list.Items) != 0 {
		t.Fatalf("rejected creates left %d services", len(list.Items))
	}
	// Limits per kind: 63 for networks, 40 for services.
	long63 := "a23456789012345678901234567890123456789012345678901234567890123"
	need(c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String(long63)})).ok(t)
	_, err := c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String(long63)})
	wantAPIError(t, err, "ValidationException")
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"listener-x", createListenerNamed(t, c, "listener-web")},
		{"tg-x", tgNamed(c, "tg-web")},
	} {
		wantAPIError(t, tc.err, "ValidationException")
	}
}

func createListenerNamed(t *testing.T, c *vpclattice.Client, name string) error {
	svc := need(c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("lnames")})).ok(t)
	_, err := c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: svc.Id, Name: aws.String(name),
		Protocol: types.ListenerProtocolHttp, DefaultAction: fixed(404)})
	return err
}

func tgNamed(c *vpclattice.Client, name string) error {
	_, err := c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String(name), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp, VpcIdentifier: aws.String("vpc-0123456789abcdef0")}})
	return err
}

func fixed(code int32) types.RuleAction {
	return &types.RuleActionMemberFixedResponse{Value: types.FixedResponseAction{StatusCode: aws.Int32(code)}}
}

func forward(weights map[string]int32) types.RuleAction {
	var tgs []types.WeightedTargetGroup
	keys := make([]string, 0, len(weights))
	for k := range weights {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		tgs = append(tgs, types.WeightedTargetGroup{TargetGroupIdentifier: aws.String(k), Weight: aws.Int32(weights[k])})
	}
	return &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: tgs}}
}

func TestServicePaginationAndDNS(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := newClient(s)
	ids := map[string]bool{}
	for i := 0; i < 23; i++ {
		out := need(c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String(fmt.Sprintf("svc%02d", i))})).ok(t)
		ids[*out.Id] = true
		dnsRE := regexp.MustCompile(fmt.Sprintf(`^svc%02d-%s\.[0-9a-f]{7}\.vpc-lattice-svcs\.%s\.on\.aws$`, i, (*out.Id)[4:], s.Region))
		if out.DnsEntry == nil || !dnsRE.MatchString(*out.DnsEntry.DomainName) || out.DnsEntry.HostedZoneId == nil {
			t.Fatalf("dnsEntry %+v", out.DnsEntry)
		}
	}
	var sizes []int
	seen := map[string]bool{}
	p := vpclattice.NewListServicesPaginator(c, &vpclattice.ListServicesInput{MaxResults: aws.Int32(10)})
	for p.HasMorePages() {
		page := need(p.NextPage(ctx)).ok(t)
		sizes = append(sizes, len(page.Items))
		for _, it := range page.Items {
			if seen[*it.Id] {
				t.Fatalf("service %s on two pages", *it.Id)
			}
			seen[*it.Id] = true
		}
	}
	if fmt.Sprint(sizes) != "[10 10 3]" || len(seen) != 23 {
		t.Fatalf("page sizes %v, %d distinct", sizes, len(seen))
	}
	for _, bad := range []int32{0, 101} {
		_, err := c.ListServices(ctx, &vpclattice.ListServicesInput{MaxResults: aws.Int32(bad)})
		wantAPIError(t, err, "ValidationException")
	}
	_, err := c.ListServices(ctx, &vpclattice.ListServicesInput{NextToken: aws.String("garbage")})
	wantAPIError(t, err, "ValidationException")
}

func TestClientTokenIdempotency(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := newClient(s)
	tok := aws.String("token-1")
	a := need(c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("orders"), ClientToken: tok})).ok(t)
	b := need(c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("orders"), ClientToken: tok})).ok(t)
	if *a.Id != *b.Id {
		t.Fatalf("same token made two services: %s, %s", *a.Id, *b.Id)
	}
	_, err := c.CreateService(ctx, &vpclattice.CreateServiceInput{Name: aws.String("orders2"), ClientToken: tok})
	wantAPIError(t, err, "ConflictException")
	list := need(c.ListServices(ctx, &vpclattice.ListServicesInput{})).ok(t)
	if len(list.Items) != 1 {
		t.Fatalf("%d services, want 1", len(list.Items))
	}
}

func TestAuthenticationFailures(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	_, err := clientWith(s, s.AccessKeyID, s.SecretAccessKey+"x").ListServices(ctx, &vpclattice.ListServicesInput{})
	wantAPIError(t, err, "InvalidSignatureException")
	_, err = clientWith(s, "AKIAUNKNOWNUNKNOWN00", s.SecretAccessKey).ListServices(ctx, &vpclattice.ListServicesInput{})
	wantAPIError(t, err, "UnrecognizedClientException")
	status, _, body := raw(t, s, "GET", "/services", nil)
	if status != 200 {
		t.Fatalf("signed raw request: %d %s", status, body)
	}
}

func TestQuotaExceeded(t *testing.T) {
	t.Parallel()
	s := apptest.StartWith(t, apptest.Options{Quotas: model.Quotas{"service-networks": 2}})
	c := newClient(s)
	for i := 0; i < 2; i++ {
		need(c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String(fmt.Sprintf("net-%d", i))})).ok(t)
	}
	_, err := c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("net-2")})
	var qe *types.ServiceQuotaExceededException
	if !errorsAs(err, &qe) || *qe.ServiceCode != "vpc-lattice" || *qe.QuotaCode == "" || *qe.ResourceType == "" {
		t.Fatalf("want ServiceQuotaExceededException, got %v", err)
	}
}

func TestGoldenWire(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	st, _, b := raw(t, s, "POST", "/servicenetworks", map[string]any{"name": "golden-net", "authType": "AWS_IAM", "clientToken": "g1"})
	golden(t, "create-service-network", st, b)
	st, _, b = raw(t, s, "POST", "/services", map[string]any{"name": "golden-svc", "customDomainName": "orders.example.com", "clientToken": "g2"})
	golden(t, "create-service", st, b)
	st, _, b = raw(t, s, "GET", "/services", nil)
	golden(t, "list-services", st, b)
	st, _, b = raw(t, s, "POST", "/services", map[string]any{"name": "Bad_Name"})
	golden(t, "error-validation", st, b)
	st, _, b = raw(t, s, "GET", "/services/svc-0123456789abcdef0", nil)
	golden(t, "error-not-found", st, b)
	st, _, b = raw(t, s, "POST", "/servicenetworks", map[string]any{"name": "golden-net"})
	golden(t, "error-conflict", st, b)
	st, h, b := raw(t, s, "GET", "/services/"+url.PathEscape("not-an-id"), nil)
	if h.Get("X-Amzn-ErrorType") != "ValidationException" || h.Get("x-amzn-RequestId") == "" {
		t.Fatalf("headers %v", h)
	}
	golden(t, "error-bad-identifier", st, b)
	st, _, b = raw(t, s, "POST", "/services", map[string]any{"name": 42})
	golden(t, "error-cannot-parse", st, b)
}

func TestSignatureClockSkewAndUnsigned(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	for _, skew := range []time.Duration{-6 * time.Minute, 6 * time.Minute} {
		status, h, body := rawAt(t, s, "GET", "/services", time.Now().Add(skew))
		if status != 403 || h.Get("X-Amzn-ErrorType") != "InvalidSignatureException" {
			t.Fatalf("skew %v: %d %s %s", skew, status, h.Get("X-Amzn-ErrorType"), body)
		}
	}
	if status, _, body := rawAt(t, s, "GET", "/services", time.Now().Add(-4*time.Minute)); status != 200 {
		t.Fatalf("skew of 4 minutes rejected: %d %s", status, body)
	}
	resp, err := http.Get(s.Endpoint + "/services")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}
