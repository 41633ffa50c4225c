package app_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// grpcTLSClient dials the ingress with gRPC over TLS: the client trusts
// roots alone and sends host as SNI and as :authority.
func grpcTLSClient(t *testing.T, ingress string, port int, roots *x509.CertPool, host string) testpb.TestServiceClient {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+net.JoinHostPort(ingress, strconv.Itoa(port)),
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: host})),
		grpc.WithAuthority(host))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return testpb.NewTestServiceClient(cc)
}

// TestGRPCOverTLSEndToEnd: an HTTPS listener forwarding to a GRPC target
// group serves grpc-go clients over TLS (unary, server streaming, an
// error status with its details); a gRPC call to an HTTP1 target group is
// refused by the protocol matrix as UNIMPLEMENTED, and an auth policy's
// denial arrives as PERMISSION_DENIED with the policy's message — both
// answered the gRPC way, without reaching a target.
func TestGRPCOverTLSEndToEnd(t *testing.T) {
	const port = 18444
	w := newWorld(t, apptest.Options{})
	roots := caPool(t, w.s)
	target := newGRPCTarget(t, "tls-main")
	tg := w.grpcGroup("grpc-tls", target)
	w.httpsListener(w.svc.Id, port, tg.Id)
	policy := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke","Resource":"` + *w.svc.Arn + `/*"},
		{"Sid":"NoEmptyCalls","Effect":"Deny","Principal":"*","Action":"vpc-lattice-svcs:Invoke",
		 "Resource":"` + *w.svc.Arn + `/grpc.testing.TestService/EmptyCall"}]}`
	need(w.c.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: w.svc.Id, Policy: aws.String(policy)})).ok(t)
	need(w.c.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: w.svc.Id, AuthType: types.AuthTypeAwsIam})).ok(t)

	// Another service whose HTTPS listener forwards to an HTTP1 group.
	legacy := newBackend(t, "legacy")
	legacySvc := w.associatedService("legacy", "", "")
	w.httpsListener(legacySvc.Id, port, w.targetGroup("legacy", nil, legacy).Id)

	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	host := *w.svc.DnsEntry.DomainName
	c := grpcTLSClient(t, ingress, port, roots, host)
	waitGRPC(t, c)

	t.Run("unary", func(t *testing.T) {
		var hdr metadata.MD
		resp, err := c.UnaryCall(ctx, &testpb.SimpleRequest{ResponseSize: 80 << 10, Payload: payload(20 << 10)}, grpc.Header(&hdr))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(resp.GetPayload().GetBody()); n != 80<<10 {
			t.Fatalf("payload of %d bytes", n)
		}
		if got := strings.Join(hdr.Get("x-target"), ","); got != "tls-main" {
			t.Fatalf("x-target %q", got)
		}
		md, _, _ := target.seen()
		if got := strings.Join(md.Get("x-forwarded-proto"), ","); got != "https" {
			t.Errorf("x-forwarded-proto %q", got)
		}
		if got := strings.Join(md.Get(":authority"), ","); got != host {
			t.Errorf(":authority %q", got)
		}
	})

	t.Run("server streaming", func(t *testing.T) {
		sizes := []int32{5, 40 << 10, 0, 1}
		serverStream(t, c, sizes)
	})

	t.Run("target error status", func(t *testing.T) {
		_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.FailedPrecondition), Message: "stock low"}})
		st, _ := status.FromError(err)
		if st.Code() != codes.FailedPrecondition || st.Message() != "stock low" || len(st.Details()) != 1 {
			t.Fatalf("status %v %q details %v", st.Code(), st.Message(), st.Details())
		}
	})

	t.Run("auth policy denial", func(t *testing.T) {
		_, _, before := target.seen()
		_, err := c.EmptyCall(ctx, &testpb.Empty{})
		st, _ := status.FromError(err)
		if st.Code() != codes.PermissionDenied || !strings.HasPrefix(st.Message(), "AccessDeniedException: ") ||
			!strings.Contains(st.Message(), "NoEmptyCalls") {
			t.Fatalf("EmptyCall: %v, want PermissionDenied with the policy's message", err)
		}
		if _, _, after := target.seen(); after != before {
			t.Fatal("the denied call reached the target")
		}
	})

	t.Run("gRPC to an HTTP1 target group", func(t *testing.T) {
		lc := grpcTLSClient(t, ingress, port, roots, *legacySvc.DnsEntry.DomainName)
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_, err := lc.UnaryCall(cctx, &testpb.SimpleRequest{})
		if status.Code(err) != codes.Unimplemented {
			t.Fatalf("%v, want Unimplemented", err)
		}
		t.Logf("as the client sees it: %v", err)
		if legacy.hits.Load() != 0 {
			t.Fatal("the gRPC call reached the HTTP/1.1 target")
		}
	})

	t.Run("refusals before a target", func(t *testing.T) {
		// h2c to the HTTPS port: 400 "connect with TLS", which gRPC maps
		// to INTERNAL. (An :authority naming another service than SNI,
		// 421, cannot be sent by grpc-go: it checks the authority against
		// the certificate; TestHTTPSListenerEndToEnd covers it.)
		for _, tc := range []struct {
			name string
			c    testpb.TestServiceClient
			code codes.Code
			msg  string
		}{
			{"cleartext h2c", grpcClient(t, ingress, port, host), codes.Internal, "connect with TLS"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, _, before := target.seen()
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				_, err := tc.c.UnaryCall(cctx, &testpb.SimpleRequest{})
				st, _ := status.FromError(err)
				if st.Code() != tc.code || !strings.Contains(st.Message(), tc.msg) {
					t.Fatalf("%v, want %v with %q", err, tc.code, tc.msg)
				}
				if _, _, after := target.seen(); after != before || legacy.hits.Load() != 0 {
					t.Fatal("a target was reached")
				}
			})
		}
	})
}
