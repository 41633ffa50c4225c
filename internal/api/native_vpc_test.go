package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"

	"github.com/trellis-net/trellis/internal/app/apptest"
)

func TestNativeVPCs(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	decodeVPC := func(b []byte) map[string]any {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		return m
	}
	st, _, b := raw(t, s, "PUT", "/trellis/v1/vpcs/vpc-0000000000000000a", map[string]any{"mode": "host"})
	v := decodeVPC(b)
	if st != http.StatusCreated || v["vpcId"] != "vpc-0000000000000000a" || v["mode"] != "host" || v["ingressAddress"] != "127.171.0.1" {
		t.Fatalf("PUT: %d %v", st, v)
	}
	if v["arn"] != "arn:aws:ec2:us-east-1:"+s.Account+":vpc/vpc-0000000000000000a" {
		t.Fatalf("arn %v", v["arn"])
	}
	st, _, b = raw(t, s, "PUT", "/trellis/v1/vpcs/vpc-0000000000000000a", nil)
	if st != http.StatusOK || decodeVPC(b)["ingressAddress"] != "127.171.0.1" {
		t.Fatalf("second PUT: %d %s", st, b)
	}
	// Referring to an unknown VPC creates it in host mode with the next address.
	c := newClient(s)
	sn := need(c.CreateServiceNetwork(ctx, &vpclattice.CreateServiceNetworkInput{Name: aws.String("net")})).ok(t)
	need(c.CreateServiceNetworkVpcAssociation(ctx, &vpclattice.CreateServiceNetworkVpcAssociationInput{
		ServiceNetworkIdentifier: sn.Id, VpcIdentifier: aws.String("vpc-0000000000000000b")})).ok(t)
	st, _, b = raw(t, s, "GET", "/trellis/v1/vpcs/vpc-0000000000000000b", nil)
	if v := decodeVPC(b); st != 200 || v["ingressAddress"] != "127.171.0.2" || v["autoCreated"] != true {
		t.Fatalf("auto-created VPC: %d %v", st, v)
	}
	st, _, b = raw(t, s, "GET", "/trellis/v1/vpcs", nil)
	var list struct{ Items []map[string]any }
	_ = json.Unmarshal(b, &list)
	if st != 200 || len(list.Items) != 2 {
		t.Fatalf("list: %d %s", st, b)
	}
	st, h, _ := raw(t, s, "DELETE", "/trellis/v1/vpcs/vpc-0000000000000000b", nil)
	if st != http.StatusConflict || h.Get("X-Amzn-ErrorType") != "ConflictException" {
		t.Fatalf("delete of an associated VPC: %d %s", st, h.Get("X-Amzn-ErrorType"))
	}
	if st, _, b := raw(t, s, "DELETE", "/trellis/v1/vpcs/vpc-0000000000000000a", nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d %s", st, b)
	}
	if st, h, _ := raw(t, s, "GET", "/trellis/v1/vpcs/vpc-0000000000000000a", nil); st != 404 || h.Get("X-Amzn-ErrorType") != "ResourceNotFoundException" {
		t.Fatalf("get after delete: %d", st)
	}
	if st, h, _ := raw(t, s, "PUT", "/trellis/v1/vpcs/vpc-x", nil); st != 400 || h.Get("X-Amzn-ErrorType") != "ValidationException" {
		t.Fatalf("bad id: %d", st)
	}
	resp, err := http.Get(s.Endpoint + "/trellis/v1/vpcs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("unsigned native request: %d", resp.StatusCode)
	}
}
