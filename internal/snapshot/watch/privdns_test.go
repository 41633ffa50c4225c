package watch

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/snapshot"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/embedded"
	"github.com/trellis-net/trellis/internal/store/schema"
)

// TestDomainVerificationRecompilesResourceNames: the Loader reads the
// domain verifications, and a verification that changes status is a
// change the watcher recompiles: the custom name of a configuration that
// names it is answered (the default preference, VERIFIED_DOMAINS_ONLY)
// once it is VERIFIED and withheld again when it is not; each snapshot
// equals a full Load and Compile of the same view.
func TestDomainVerificationRecompilesResourceNames(t *testing.T) {
	ctx := context.Background()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acct := "111122223333"
	put := func(tx store.Tx, k string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return tx.Put(k, b)
	}
	dv := &model.DomainVerification{Meta: model.Meta{ID: "dv-00000000000000001", Account: acct}, DomainName: "example.com",
		Status: model.VerificationPending}
	if _, err := st.Update(ctx, func(tx store.Tx) error {
		for k, v := range map[string]any{
			schema.ServiceNetwork + "sn-00000000000000001": &model.ServiceNetwork{Meta: model.Meta{ID: "sn-00000000000000001", Account: acct}, Name: "net"},
			schema.VPC + "vpc-00000000000000001":           &model.VPC{ID: "vpc-00000000000000001", Account: acct, Mode: model.VPCModeHost, IngressAddress: "127.171.0.1"},
			schema.VPC + "vpc-00000000000000002":           &model.VPC{ID: "vpc-00000000000000002", Account: acct, Mode: model.VPCModeHost, IngressAddress: "127.171.0.2"},
			schema.SNVA + "snva-00000000000000001": &model.ServiceNetworkVpcAssociation{Meta: model.Meta{ID: "snva-00000000000000001", Account: acct},
				ServiceNetworkID: "sn-00000000000000001", VpcID: "vpc-00000000000000001", Status: model.StatusActive},
			schema.ResourceGateway + "rgw-00000000000000001": &model.ResourceGateway{Meta: model.Meta{ID: "rgw-00000000000000001", Account: acct},
				Status: model.StatusActive, VpcID: "vpc-00000000000000002"},
			schema.ResourceConfiguration + "rcfg-00000000000000001": &model.ResourceConfiguration{Meta: model.Meta{ID: "rcfg-00000000000000001", Account: acct,
				ARN: "arn:aws:vpc-lattice:us-east-1:" + acct + ":resourceconfiguration/rcfg-00000000000000001"},
				Type: model.ResourceConfigurationTypeSingle, Status: model.StatusActive, PortRanges: []string{"5432"}, ResourceGatewayID: "rgw-00000000000000001",
				CustomDomainName: "db.example.com", DomainVerificationID: dv.ID,
				Definition: &model.ResourceConfigurationDefinition{IPResource: &model.IPResource{IPAddress: "127.0.0.5"}}},
			schema.SNRA + "snra-00000000000000001": &model.ServiceNetworkResourceAssociation{Meta: model.Meta{ID: "snra-00000000000000001", Account: acct},
				ServiceNetworkID: "sn-00000000000000001", ResourceConfigurationID: "rcfg-00000000000000001", PrivateDNSEnabled: true, Status: model.StatusActive},
			schema.DomainVerification + dv.ID: dv,
		} {
			if err := put(tx, k, v); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	o := snapshot.Options{Region: "us-east-1", Now: time.Now(), DNSToken: "abc1234"}
	var l Loader
	var inc snapshot.Incremental
	for round, status := range []string{model.VerificationPending, model.VerificationVerified, model.VerificationTimedOut, model.VerificationVerified} {
		if round > 0 {
			dv.Status = status
			if _, err := st.Update(ctx, func(tx store.Tx) error { return put(tx, schema.DomainVerification+dv.ID, dv) }); err != nil {
				t.Fatal(err)
			}
		}
		_ = st.View(ctx, func(tx store.ReadTx) error {
			s, err := l.Load(tx)
			if err != nil {
				t.Fatal(err)
			}
			if len(s.DomainVerifications) != 1 || s.DomainVerifications[0].Status != status {
				t.Fatalf("round %d: the state's domain verifications %+v, want one %s", round, s.DomainVerifications, status)
			}
			if round > 0 && (l.Change() == nil || !l.Change().Other) {
				t.Fatalf("round %d: change %+v: a verification's status is not a full recompile", round, l.Change())
			}
			got := inc.Compile(s, l.Change(), &l, o)
			fresh, err := Load(tx)
			if err != nil {
				t.Fatal(err)
			}
			if want := snapshot.Compile(fresh, o); !reflect.DeepEqual(snapshot.WithoutHistory(got), want) {
				t.Fatalf("round %d: the watcher's snapshot differs from a full compile", round)
			}
			answered := got.VPCs["vpc-00000000000000001"].ResourceDNS.Get("db.example.com.") != nil
			if answered != (status == model.VerificationVerified) {
				t.Fatalf("round %d: verification %s: db.example.com answered %v", round, status, answered)
			}
			return nil
		})
	}
}
