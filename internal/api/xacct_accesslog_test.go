package api_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
)

// TestCrossAccountAccessLogsReachBothOwners: Lattice delivers a request's
// record to the subscriptions of the service network it went through and
// to those of the service it reached, whoever owns each ("the network
// owner sees requests to every service from its associated VPCs, the
// service owner sees every client of its service"). C calls B's service
// through A's network; B's own VPC calls it through B's own network, which
// A must not see. Destinations are CloudWatch log groups and S3 buckets
// under the access-log directory, the S3 keys carrying the subscription
// owner's account.
func TestCrossAccountAccessLogsReachBothOwners(t *testing.T) {
	t.Parallel()
	w := newXWorld(t, xPort+4)
	w.shareNetwork(t, *w.sn.Arn, ramSvcOwner, ramConsumer)
	need(w.lb.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: w.sn.Arn, ServiceIdentifier: w.svc.Id})).ok(t)
	need(w.lc.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: w.sn.Arn, VpcIdentifier: aws.String(xVpcC)})).ok(t)
	// B's own network, with B's VPC as its client.
	bnet := need(w.lb.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("b-net")})).ok(t)
	need(w.lb.CreateServiceNetworkServiceAssociation(ctx, &vpclattice.CreateServiceNetworkServiceAssociationInput{
		ServiceNetworkIdentifier: bnet.Id, ServiceIdentifier: w.svc.Id})).ok(t)
	need(w.lb.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: bnet.Id, VpcIdentifier: aws.String(xVpcB)})).ok(t)

	subscribe := func(c *vpclattice.Client, resource *string, dest string) {
		t.Helper()
		need(c.CreateAccessLogSubscription(ctx, &vpclattice.CreateAccessLogSubscriptionInput{
			ResourceIdentifier: resource, DestinationArn: aws.String(dest)})).ok(t)
	}
	subscribe(w.la, w.sn.Id, "arn:aws:logs:us-east-1:"+ramOwner+":log-group:net-logs")
	subscribe(w.la, w.sn.Id, "arn:aws:s3:::net-bucket")
	subscribe(w.la, w.sn2.Id, "arn:aws:logs:us-east-1:"+ramOwner+":log-group:other-net-logs")
	subscribe(w.lb, w.svc.Id, "arn:aws:logs:us-east-1:"+ramSvcOwner+":log-group:svc-logs")
	subscribe(w.lb, w.svc.Id, "arn:aws:s3:::svc-bucket")
	subscribe(w.lb, bnet.Id, "arn:aws:logs:us-east-1:"+ramSvcOwner+":log-group:b-net-logs")

	host := *w.svc.DnsEntry.DomainName
	ingressC := call(t, w.s, w.cc, "GET", "/trellis/v1/vpcs/"+xVpcC, nil).obj(t)["ingressAddress"].(string)
	ingressB := call(t, w.s, w.cb, "GET", "/trellis/v1/vpcs/"+xVpcB, nil).obj(t)["ingressAddress"].(string)
	// Each call is repeated until it is answered (the snapshot with the
	// associations and subscriptions reaches the data plane shortly after
	// the API answers); every attempt has its own path, and the last one
	// must be in the logs.
	callUntilOK := func(ingress, prefix string) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for i := 0; ; i++ {
			path := fmt.Sprintf("/%s-%d", prefix, i)
			req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s:%d%s", ingress, w.port, path), nil)
			req.Host = host
			resp, err := (&http.Client{Timeout: 3 * time.Second}).Do(req)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return path
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s through %s: %v", prefix, ingress, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	dir := filepath.Join(w.s.DataDir, "accesslogs")
	cw := func(account, group, resource string) string {
		return filepath.Join(dir, "cloudwatch", account, "us-east-1", group, resource+".log")
	}
	// The subscriptions reach the data plane with a snapshot a moment
	// after the API answers, and requests before it are not logged to
	// them: B's VPC calls until a record shows in the subscription created
	// last, so that the calls below find every subscription in place.
	for deadline := time.Now().Add(10 * time.Second); ; {
		probe := callUntilOK(ingressB, "probe")
		if recordOf(xacctRecords(t, cw(ramSvcOwner, "b-net-logs", *bnet.Id)), probe) != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the subscriptions never reached the data plane")
		}
		time.Sleep(100 * time.Millisecond)
	}
	viaA := callUntilOK(ingressC, "via-a")
	viaB := callUntilOK(ingressB, "via-b")
	s3 := func(bucket, account, resource string) string {
		return filepath.Join(dir, "s3", bucket, "AWSLogs", account, "VpcLattice", "AccessLogs", "us-east-1", "*", "*", "*", resource,
			account+"_VpcLatticeAccessLogs_us-east-1_"+resource+"_*.json.gz*")
	}
	want := []struct {
		name      string
		glob      string
		has, lack []string
	}{
		{"A's network, CloudWatch", cw(ramOwner, "net-logs", *w.sn.Id), []string{viaA}, []string{viaB}},
		{"A's network, S3", s3("net-bucket", ramOwner, *w.sn.Id), []string{viaA}, []string{viaB}},
		{"B's service, CloudWatch", cw(ramSvcOwner, "svc-logs", *w.svc.Id), []string{viaA, viaB}, nil},
		{"B's service, S3", s3("svc-bucket", ramSvcOwner, *w.svc.Id), []string{viaA, viaB}, nil},
		{"B's network, CloudWatch", cw(ramSvcOwner, "b-net-logs", *bnet.Id), []string{viaB}, []string{viaA}},
		{"A's other network", cw(ramOwner, "other-net-logs", *w.sn2.Id), nil, []string{viaA, viaB}},
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, d := range want {
		for {
			recs := xacctRecords(t, d.glob)
			missing := ""
			for _, p := range d.has {
				if recordOf(recs, p) == nil {
					missing = p
				}
			}
			if missing == "" {
				for _, p := range d.lack {
					if rec := recordOf(recs, p); rec != nil {
						t.Errorf("%s has the record of %s: %v", d.name, p, rec)
					}
				}
				break
			}
			if time.Now().After(deadline) {
				files, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*"))
				t.Fatalf("%s: no record of %s in %s (%d records; under the log dir: %v)", d.name, missing, d.glob, len(recs), files)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// The records say which network each request went through and where
	// it came from, in both owners' copies.
	for _, glob := range []string{cw(ramOwner, "net-logs", *w.sn.Id), cw(ramSvcOwner, "svc-logs", *w.svc.Id)} {
		rec := recordOf(xacctRecords(t, glob), viaA)
		if rec["serviceNetworkArn"] != *w.sn.Arn || rec["serviceArn"] != *w.svc.Arn || rec["sourceVpcId"] != xVpcC {
			t.Errorf("%s: record of C's call %v", glob, rec)
		}
	}
	if rec := recordOf(xacctRecords(t, cw(ramSvcOwner, "svc-logs", *w.svc.Id)), viaB); rec["serviceNetworkArn"] != *bnet.Arn || rec["sourceVpcId"] != xVpcB {
		t.Errorf("record of B's own call %v", rec)
	}
}

// xacctRecords reads every JSON line of the files matching glob; gzip
// files (S3 objects, sealed or still .partial: each flush appends a whole
// gzip member) are decompressed. A last line without its newline is still
// being written.
func xacctRecords(t *testing.T, glob string) []map[string]any {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			continue // sealed (renamed) between the glob and the read
		}
		if strings.Contains(name, ".json.gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				continue // empty so far
			}
			if b, err = io.ReadAll(zr); err != nil {
				continue
			}
		}
		b = b[:bytes.LastIndexByte(b, '\n')+1]
		for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var rec map[string]any
			if err := json.Unmarshal(line, &rec); err != nil {
				t.Fatalf("%s: a line is not JSON: %v: %q", name, err, line)
			}
			out = append(out, rec)
		}
	}
	return out
}

func recordOf(recs []map[string]any, path string) map[string]any {
	for _, r := range recs {
		if r["requestPath"] == path {
			return r
		}
	}
	return nil
}
