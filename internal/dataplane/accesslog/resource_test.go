package accesslog

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/snapshot"
)

func TestAppendResourceJSON(t *testing.T) {
	e := &ResourceEntry{Start: time.Date(2026, 12, 6, 13, 4, 5, 0, time.UTC), ServiceNetworkARN: "arn:sn",
		AssociationID: "snra-1", SourceVPCARN: "arn:vpc", ResourceConfigurationARN: "arn:rcfg\"x",
		Source: netip.MustParseAddrPort("10.0.0.1:4000"), Destination: netip.MustParseAddrPort("127.171.0.1:5432"),
		Gateway: netip.MustParseAddrPort("127.0.0.1:5000")}
	got := string(AppendResourceJSON(nil, e))
	want := `{"eventTimestamp":"2026-12-06T13:04:05Z","serviceNetworkArn":"arn:sn","serviceNetworkResourceAssociationId":"snra-1",` +
		`"vpcEndpointId":"-","sourceVpcArn":"arn:vpc","resourceConfigurationArn":"arn:rcfg\"x","protocol":"tcp",` +
		`"sourceIpPort":"10.0.0.1:4000","destinationIpPort":"127.171.0.1:5432","gatewayIpPort":"127.0.0.1:5000","resourceIpPort":"-"}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// A RESOURCE subscription's S3 objects are under ResourceAccessLogs and
// named VpcLatticeResourceAccessLogs; a SERVICE one's keep their names, so
// that both on one bucket never share an object.
func TestResourceS3Naming(t *testing.T) {
	sub := &snapshot.LogSubscription{ID: "als-1", ResourceID: snID, Account: acct, DestinationARN: "arn:aws:s3:::bucket/p"}
	svc, err := resolveTarget(sub, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	rsub := *sub
	rsub.Resource = true
	res, err := resolveTarget(&rsub, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if svc.key == res.key {
		t.Fatal("SERVICE and RESOURCE records share a sink")
	}
	w := time.Date(2026, 12, 6, 13, 0, 0, 0, time.UTC)
	p := res.objectPath(w, 7)
	wantDir := filepath.Join("s3", "bucket", "p", "AWSLogs", acct, "VpcLattice", "ResourceAccessLogs", "us-east-1", "2026", "12", "06", snID)
	if filepath.Dir(p) != wantDir || !strings.HasPrefix(filepath.Base(p), acct+"_VpcLatticeResourceAccessLogs_us-east-1_"+snID+"_20261206T1300Z_0007") {
		t.Fatalf("resource object %s", p)
	}
	if sp := svc.objectPath(w, 7); !strings.Contains(sp, "/AccessLogs/") || !strings.Contains(filepath.Base(sp), "_VpcLatticeAccessLogs_") {
		t.Fatalf("service object %s", sp)
	}
}
