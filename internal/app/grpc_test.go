package app_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

// grpcTarget is a real grpc-go server on 127.0.0.1 implementing
// grpc.testing.TestService; it records the metadata and deadline of the
// calls it gets and names itself in a response header.
type grpcTarget struct {
	testpb.UnimplementedTestServiceServer
	name string
	lis  net.Listener

	mu       sync.Mutex
	last     metadata.MD
	deadline time.Duration // time left at the start of the last call; 0 without a deadline
	calls    int
}

func newGRPCTarget(t *testing.T, name string) *grpcTarget {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &grpcTarget{name: name, lis: lis}
	srv := grpc.NewServer()
	testpb.RegisterTestServiceServer(srv, g)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return g
}

func (g *grpcTarget) port() int32 { return int32(g.lis.Addr().(*net.TCPAddr).Port) }

func (g *grpcTarget) record(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	var left time.Duration
	if dl, ok := ctx.Deadline(); ok {
		left = time.Until(dl)
	}
	g.mu.Lock()
	g.last, g.deadline = md.Copy(), left
	g.calls++
	g.mu.Unlock()
	grpc.SetHeader(ctx, metadata.Pairs("x-target", g.name))
}

func (g *grpcTarget) seen() (metadata.MD, time.Duration, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last, g.deadline, g.calls
}

func payload(n int32) *testpb.Payload { return &testpb.Payload{Body: make([]byte, n)} }

// UnaryCall answers with a payload of the asked size, echoes the metadata
// key "x-echo" as a trailer, fails with the asked status (with a
// BadRequest detail), and waits for the call's end when "x-hang" is sent.
func (g *grpcTarget) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	g.record(ctx)
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-echo"); len(v) > 0 {
		grpc.SetTrailer(ctx, metadata.Pairs("x-echo", v[0], "x-echo-bin", "\x00\x01binary\xff"))
	}
	if len(md.Get("x-hang")) > 0 {
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if s := in.GetResponseStatus(); s != nil && s.Code != 0 {
		st, err := status.New(codes.Code(s.Code), s.Message).WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "id", Description: "no such order"}}})
		if err != nil {
			return nil, err
		}
		return nil, st.Err()
	}
	return &testpb.SimpleResponse{Payload: payload(in.GetResponseSize())}, nil
}

func (g *grpcTarget) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	g.record(ctx)
	return &testpb.Empty{}, nil
}

func (g *grpcTarget) StreamingOutputCall(in *testpb.StreamingOutputCallRequest, stream testpb.TestService_StreamingOutputCallServer) error {
	g.record(stream.Context())
	for _, p := range in.GetResponseParameters() {
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: payload(p.GetSize())}); err != nil {
			return err
		}
	}
	return nil
}

func (g *grpcTarget) StreamingInputCall(stream testpb.TestService_StreamingInputCallServer) error {
	g.record(stream.Context())
	var sum int32
	for {
		in, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: sum})
		}
		if err != nil {
			return err
		}
		sum += int32(len(in.GetPayload().GetBody()))
	}
}

func (g *grpcTarget) FullDuplexCall(stream testpb.TestService_FullDuplexCallServer) error {
	g.record(stream.Context())
	for {
		in, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, p := range in.GetResponseParameters() {
			if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: payload(p.GetSize())}); err != nil {
				return err
			}
		}
	}
}

// grpcGroup creates a target group of protocol version GRPC (protocol
// HTTP: h2c to the targets) with the given targets.
func (w *world) grpcGroup(name string, targets ...*grpcTarget) *vpclattice.CreateTargetGroupOutput {
	t := w.t
	tg := need(w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String(name), Type: types.TargetGroupTypeIp,
		Config: &types.TargetGroupConfig{Port: aws.Int32(80), Protocol: types.TargetGroupProtocolHttp,
			ProtocolVersion: types.TargetGroupProtocolVersionGrpc, VpcIdentifier: aws.String("vpc-0000000000000000f")}})).ok(t)
	var ts []types.Target
	for _, g := range targets {
		ts = append(ts, types.Target{Id: aws.String("127.0.0.1"), Port: aws.Int32(g.port())})
	}
	need(w.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id, Targets: ts})).ok(t)
	return tg
}

// grpcClient dials the ingress with h2c prior knowledge (insecure
// credentials) and the service's DNS name as the authority.
func grpcClient(t *testing.T, ingress string, port int, host string) testpb.TestServiceClient {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+net.JoinHostPort(ingress, strconv.Itoa(port)),
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithAuthority(host))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return testpb.NewTestServiceClient(cc)
}

// waitGRPC retries a unary call while the configuration propagates.
func waitGRPC(t *testing.T, c testpb.TestServiceClient) {
	t.Helper()
	eventually(t, 5*time.Second, "gRPC service reachable", func() bool {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := c.UnaryCall(cctx, &testpb.SimpleRequest{ResponseSize: 1})
		return err == nil
	})
}

func TestGRPCEndToEnd(t *testing.T) {
	w := newWorld(t, apptest.Options{})
	target := newGRPCTarget(t, "main")
	tg := w.grpcGroup("grpc-main", target)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("grpc"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18090), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	host := *w.svc.DnsEntry.DomainName
	c := grpcClient(t, ingress, 18090, host)
	waitGRPC(t, c)

	t.Run("unary", func(t *testing.T) {
		var hdr metadata.MD
		resp, err := c.UnaryCall(ctx, &testpb.SimpleRequest{ResponseSize: 100 << 10, Payload: payload(50 << 10)}, grpc.Header(&hdr))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(resp.GetPayload().GetBody()); n != 100<<10 {
			t.Fatalf("payload of %d bytes, want %d", n, 100<<10)
		}
		if got := hdr.Get("x-target"); len(got) != 1 || got[0] != "main" {
			t.Fatalf("x-target header %q", got)
		}
		if id := hdr.Get("x-amzn-requestid"); len(id) != 1 || len(id[0]) != 36 {
			t.Fatalf("x-amzn-requestid %q", id)
		}
	})

	t.Run("server streaming", func(t *testing.T) {
		sizes := []int32{1, 10 << 10, 0, 70 << 10, 3}
		serverStream(t, c, sizes)
	})

	t.Run("client streaming", func(t *testing.T) {
		stream, err := c.StreamingInputCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var want int32
		for _, n := range []int32{27182, 8, 1828, 45904, 0, 64 << 10} {
			if err := stream.Send(&testpb.StreamingInputCallRequest{Payload: payload(n)}); err != nil {
				t.Fatal(err)
			}
			want += n
		}
		resp, err := stream.CloseAndRecv()
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetAggregatedPayloadSize() != want {
			t.Fatalf("aggregated %d, want %d", resp.GetAggregatedPayloadSize(), want)
		}
	})

	t.Run("bidi", func(t *testing.T) {
		// Ping-pong: each answer must come back before the next request
		// is sent, which only full duplex forwarding gives.
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		stream, err := c.FullDuplexCall(cctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range []int32{31415, 9, 2653, 58979} {
			if err := stream.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: n}},
				Payload: payload(n / 2)}); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
			resp, err := stream.Recv()
			if err != nil {
				t.Fatalf("recv %d: %v", i, err)
			}
			if got := int32(len(resp.GetPayload().GetBody())); got != n {
				t.Fatalf("answer %d: %d bytes, want %d", i, got, n)
			}
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
			t.Fatalf("end of stream: %v", err)
		}
	})

	t.Run("deadline propagates", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(ctx, "x-hang", "1"), 500*time.Millisecond)
		defer cancel()
		_, err := c.UnaryCall(cctx, &testpb.SimpleRequest{})
		if status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("client: %v, want DeadlineExceeded", err)
		}
		_, left, _ := target.seen()
		// grpc-timeout reached the target: its context had a deadline no
		// later than the client's.
		if left <= 0 || left > 500*time.Millisecond {
			t.Fatalf("target's deadline: %v left, want within (0, 500ms]", left)
		}
	})

	t.Run("target error status and trailers pass unchanged", func(t *testing.T) {
		var trl metadata.MD
		_, err := c.UnaryCall(metadata.AppendToOutgoingContext(ctx, "x-echo", "echo-value"),
			&testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.NotFound), Message: "order 7: not found ☺ 100%"}},
			grpc.Trailer(&trl))
		st, _ := status.FromError(err)
		if st.Code() != codes.NotFound || st.Message() != "order 7: not found ☺ 100%" {
			t.Fatalf("status %v %q", st.Code(), st.Message())
		}
		var found bool
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok && len(br.FieldViolations) == 1 && br.FieldViolations[0].Description == "no such order" {
				found = true
			}
		}
		if !found {
			t.Fatalf("details %v, want the BadRequest", st.Details())
		}
		if got := trl.Get("x-echo"); len(got) != 1 || got[0] != "echo-value" {
			t.Fatalf("trailer x-echo %q (trailers %v)", got, trl)
		}
		if got := trl.Get("x-echo-bin"); len(got) != 1 || got[0] != "\x00\x01binary\xff" {
			t.Fatalf("binary trailer %q", got)
		}
	})

	t.Run("unknown service", func(t *testing.T) {
		// A name no service has: Lattice's 404 "Non Existent Service",
		// which a gRPC client reads as UNIMPLEMENTED.
		other := grpcClient(t, ingress, 18090, "nothing.example.com")
		_, err := other.UnaryCall(ctx, &testpb.SimpleRequest{})
		if st, _ := status.FromError(err); st.Code() != codes.Unimplemented || !strings.Contains(st.Message(), "Non Existent Service") {
			t.Fatalf("unknown service: %v, want Unimplemented naming the Non Existent Service", err)
		}
	})

	t.Run("metadata and Lattice headers reach the target", func(t *testing.T) {
		mctx := metadata.AppendToOutgoingContext(ctx, "x-custom", "v1", "x-custom", "v2", "x-data-bin", "\xff\x00",
			"x-amzn-lattice-network", "SourceVpcArn=forged")
		if _, err := c.EmptyCall(mctx, &testpb.Empty{}); err != nil {
			t.Fatal(err)
		}
		md, _, _ := target.seen()
		if got := md.Get("x-custom"); strings.Join(got, ",") != "v1,v2" {
			t.Errorf("x-custom %q", got)
		}
		if got := md.Get("x-data-bin"); len(got) != 1 || got[0] != "\xff\x00" {
			t.Errorf("x-data-bin %q", got)
		}
		if got := md.Get(":authority"); len(got) != 1 || got[0] != host {
			t.Errorf(":authority %q, want %q", got, host)
		}
		tgt := strings.Join(md.Get("x-amzn-lattice-target"), ",")
		if !strings.Contains(tgt, "ServiceArn="+*w.svc.Arn) || !strings.Contains(tgt, "ServiceNetworkArn="+*w.sn.Arn) ||
			!strings.Contains(tgt, "TargetGroupArn="+*tg.Arn) {
			t.Errorf("x-amzn-lattice-target %q", tgt)
		}
		wantNet := "SourceVpcArn=arn:aws:ec2:us-east-1:" + w.s.Account + ":vpc/vpc-00000000000000001"
		if got := md.Get("x-amzn-lattice-network"); len(got) != 1 || got[0] != wantNet {
			t.Errorf("x-amzn-lattice-network %q, want %q", got, wantNet)
		}
		if got := md.Get("x-forwarded-for"); len(got) != 1 || got[0] != "127.0.0.1" {
			t.Errorf("x-forwarded-for %q", got)
		}
		if got := md.Get("x-amzn-requestid"); len(got) != 1 || len(got[0]) != 36 {
			t.Errorf("x-amzn-requestid %q", got)
		}
	})
}

func TestGRPCRuleOnMethodPath(t *testing.T) {
	w := newWorld(t, apptest.Options{})
	unary, rest := newGRPCTarget(t, "unary"), newGRPCTarget(t, "rest")
	tgUnary, tgRest := w.grpcGroup("grpc-unary", unary), w.grpcGroup("grpc-rest", rest)
	l := need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("grpc"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18091), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tgRest.Id}}}}})).ok(t)
	need(w.c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: l.Id, Name: aws.String("unary"),
		Priority: aws.Int32(10), Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{Method: aws.String("POST"),
			PathMatch: &types.PathMatch{Match: &types.PathMatchTypeMemberExact{Value: "/grpc.testing.TestService/UnaryCall"}, CaseSensitive: aws.Bool(true)}}},
		Action: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tgUnary.Id}}}}})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	c := grpcClient(t, ingress, 18091, *w.svc.DnsEntry.DomainName)
	eventually(t, 5*time.Second, "the rule in force", func() bool {
		var hdr metadata.MD
		_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}, grpc.Header(&hdr))
		return err == nil && strings.Join(hdr.Get("x-target"), ",") == "unary"
	})

	for _, tc := range []struct {
		name string
		call func(opts ...grpc.CallOption) error
		want string
	}{
		{"UnaryCall", func(o ...grpc.CallOption) error {
			_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}, o...)
			return err
		}, "unary"},
		{"EmptyCall", func(o ...grpc.CallOption) error { _, err := c.EmptyCall(ctx, &testpb.Empty{}, o...); return err }, "rest"},
		{"StreamingOutputCall", func(o ...grpc.CallOption) error {
			s, err := c.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}}}, o...)
			if err != nil {
				return err
			}
			if _, err := s.Recv(); err != nil {
				return err
			}
			_, err = s.Recv()
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return err
		}, "rest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr metadata.MD
			if err := tc.call(grpc.Header(&hdr)); err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(hdr.Get("x-target"), ","); got != tc.want {
				t.Fatalf("served by %q, want %q", got, tc.want)
			}
		})
	}
}

func TestGRPCAuthPolicyPerMethod(t *testing.T) {
	w := newWorld(t, apptest.Options{})
	target := newGRPCTarget(t, "main")
	tg := w.grpcGroup("grpc-main", target)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("grpc"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18092), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"vpc-lattice-svcs:Invoke",
		"Resource":"` + *w.svc.Arn + `/grpc.testing.TestService/UnaryCall"}]}`
	need(w.c.PutAuthPolicy(ctx, &vpclattice.PutAuthPolicyInput{ResourceIdentifier: w.svc.Id, Policy: aws.String(policy)})).ok(t)
	need(w.c.UpdateService(ctx, &vpclattice.UpdateServiceInput{ServiceIdentifier: w.svc.Id, AuthType: types.AuthTypeAwsIam})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	c := grpcClient(t, ingress, 18092, *w.svc.DnsEntry.DomainName)
	eventually(t, 5*time.Second, "the auth policy in force", func() bool {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := c.EmptyCall(cctx, &testpb.Empty{})
		return status.Code(err) == codes.PermissionDenied
	})

	if _, err := c.UnaryCall(ctx, &testpb.SimpleRequest{ResponseSize: 3}); err != nil {
		t.Fatalf("UnaryCall, allowed for anonymous callers: %v", err)
	}
	_, _, calls := target.seen()
	_, err := c.EmptyCall(ctx, &testpb.Empty{})
	st, _ := status.FromError(err)
	// The proxy answers a gRPC client's refusal the gRPC way: trailers-only,
	// PERMISSION_DENIED with the policy's message (grpcwire).
	if st.Code() != codes.PermissionDenied || !strings.HasPrefix(st.Message(), "AccessDeniedException: ") {
		t.Fatalf("EmptyCall, denied: %v, want PermissionDenied with the AccessDeniedException message", err)
	}
	if _, _, after := target.seen(); after != calls {
		t.Fatalf("the denied call reached the target")
	}
}

func TestGRPCAccessLog(t *testing.T) {
	w := newWorld(t, apptest.Options{})
	target := newGRPCTarget(t, "main")
	tg := w.grpcGroup("grpc-main", target)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("grpc"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18093), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	acct := w.s.Account
	need(w.c.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{ResourceIdentifier: w.svc.Id,
		DestinationArn: aws.String("arn:aws:logs:us-east-1:" + acct + ":log-group:/lattice/grpc")})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	c := grpcClient(t, ingress, 18093, *w.svc.DnsEntry.DomainName)
	waitGRPC(t, c)

	_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: &testpb.EchoStatus{Code: int32(codes.NotFound), Message: "nope"}})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("UnaryCall: %v, want NotFound", err)
	}
	if _, err := c.EmptyCall(ctx, &testpb.Empty{}); err != nil {
		t.Fatal(err)
	}
	glob := filepath.Join(w.s.DataDir, "accesslogs", "cloudwatch", acct, "us-east-1", "%2Flattice%2Fgrpc", *w.svc.Id+".log")
	var recs []map[string]any
	eventually(t, 5*time.Second, "the records of both calls", func() bool {
		recs = readJSONLines(t, glob)
		return byPath(recs, "/grpc.testing.TestService/EmptyCall") != nil && byPath(recs, "/grpc.testing.TestService/UnaryCall") != nil
	})
	for _, tc := range []struct {
		path string
		code float64
	}{
		{"/grpc.testing.TestService/UnaryCall", float64(codes.NotFound)},
		{"/grpc.testing.TestService/EmptyCall", float64(codes.OK)},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := byPath(recs, tc.path)
			if r["grpcResponseCode"] != tc.code || r["responseCode"] != float64(200) || r["protocol"] != "HTTP/2" ||
				r["requestMethod"] != "POST" || r["targetGroupArn"] != *tg.Arn {
				t.Fatalf("record %v", r)
			}
		})
	}
}

// newTLSGRPCTarget is a grpc-go server on 127.0.0.1 that speaks gRPC over
// TLS with a self-signed certificate (Lattice does not verify target
// certificates).
func newTLSGRPCTarget(t *testing.T, name string) *grpcTarget {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "target.invalid"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"target.invalid"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &grpcTarget{name: name, lis: lis}
	srv := grpc.NewServer(grpc.Creds(credentials.NewServerTLSFromCert(&tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key})))
	testpb.RegisterTestServiceServer(srv, g)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return g
}

// TestGRPCTargetGroupVariants sends gRPC calls to a target group of
// protocol version HTTP2 (gRPC→HTTP2 is allowed when the targets speak
// gRPC) and to a GRPC group of protocol HTTPS (h2 over TLS to the target).
func TestGRPCTargetGroupVariants(t *testing.T) {
	w := newWorld(t, apptest.Options{})
	h2Target, tlsTarget := newGRPCTarget(t, "http2-group"), newTLSGRPCTarget(t, "https-group")
	group := func(name string, proto types.TargetGroupProtocol, version types.TargetGroupProtocolVersion, g *grpcTarget) *vpclattice.CreateTargetGroupOutput {
		tg := need(w.c.CreateTargetGroup(ctx, &vpclattice.CreateTargetGroupInput{Name: aws.String(name), Type: types.TargetGroupTypeIp,
			Config: &types.TargetGroupConfig{Port: aws.Int32(443), Protocol: proto, ProtocolVersion: version,
				VpcIdentifier: aws.String("vpc-0000000000000000f")}})).ok(t)
		need(w.c.RegisterTargets(ctx, &vpclattice.RegisterTargetsInput{TargetGroupIdentifier: tg.Id,
			Targets: []types.Target{{Id: aws.String("127.0.0.1"), Port: aws.Int32(g.port())}}})).ok(t)
		return tg
	}
	tgH2 := group("grpc-over-http2", types.TargetGroupProtocolHttp, types.TargetGroupProtocolVersionHttp2, h2Target)
	tgTLS := group("grpc-over-tls", types.TargetGroupProtocolHttps, types.TargetGroupProtocolVersionGrpc, tlsTarget)
	l := need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("grpc"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18095), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tgH2.Id}}}}})).ok(t)
	need(w.c.CreateRule(ctx, &vpclattice.CreateRuleInput{ServiceIdentifier: w.svc.Id, ListenerIdentifier: l.Id, Name: aws.String("tls"),
		Priority: aws.Int32(10), Match: &types.RuleMatchMemberHttpMatch{Value: types.HttpMatch{
			HeaderMatches: []types.HeaderMatch{{Name: aws.String("x-group"), Match: &types.HeaderMatchTypeMemberExact{Value: "tls"}}}}},
		Action: &types.RuleActionMemberForward{Value: types.ForwardAction{TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tgTLS.Id}}}}})).ok(t)
	ingress := w.clientVPC("vpc-00000000000000001", w.sn.Id)
	c := grpcClient(t, ingress, 18095, *w.svc.DnsEntry.DomainName)
	waitGRPC(t, c)

	for _, tc := range []struct {
		name   string
		header string // x-group
		want   string
		tgArn  string
	}{
		{"HTTP2 group over h2c", "", "http2-group", *tgH2.Arn},
		{"GRPC group over h2 with TLS", "tls", "https-group", *tgTLS.Arn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if tc.header != "" {
				cctx = metadata.AppendToOutgoingContext(cctx, "x-group", tc.header)
			}
			var hdr metadata.MD
			resp, err := c.UnaryCall(cctx, &testpb.SimpleRequest{ResponseSize: 64 << 10}, grpc.Header(&hdr))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(hdr.Get("x-target"), ","); got != tc.want || len(resp.GetPayload().GetBody()) != 64<<10 {
				t.Fatalf("served by %q with %d bytes, want %q", got, len(resp.GetPayload().GetBody()), tc.want)
			}
			stream, err := c.FullDuplexCall(cctx)
			if err != nil {
				t.Fatal(err)
			}
			for i, n := range []int32{7, 70000} {
				if err := stream.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: n}}}); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
				r, err := stream.Recv()
				if err != nil || int32(len(r.GetPayload().GetBody())) != n {
					t.Fatalf("recv %d: %v", i, err)
				}
			}
			stream.CloseSend()
			if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
				t.Fatalf("end of stream: %v", err)
			}
		})
	}
}

// serverStream asks the interop TestService for one streamed message of
// each size and checks they arrive, in order and whole, then the end.
func serverStream(t *testing.T, c testpb.TestServiceClient, sizes []int32) {
	t.Helper()
	var params []*testpb.ResponseParameters
	for _, s := range sizes {
		params = append(params, &testpb.ResponseParameters{Size: s})
	}
	stream, err := c.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: params})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range sizes {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if n := int32(len(resp.GetPayload().GetBody())); n != want {
			t.Fatalf("message %d: %d bytes, want %d", i, n, want)
		}
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("end of stream: %v", err)
	}
}
