package service

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
)

// derived returns every counter and index key of the store with its value.
func derived(t *testing.T, st store.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := st.View(context.Background(), func(tx store.ReadTx) error {
		for _, p := range []string{pfxCount, pfxSvcTGRef, pfxALSbyResource, pfxSvcByCert, pfxTGbyVpc} {
			if err := tx.Scan(p, "", func(k string, v []byte) (bool, error) {
				out[k] = string(v)
				return true, nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantDerivedConsistent checks that the counters and indexes the writes
// kept are exactly what a rebuild from the entities gives (the rebuild runs
// in a transaction that is then rolled back).
func wantDerivedConsistent(t *testing.T, st store.Store) {
	t.Helper()
	kept := derived(t, st)
	rebuilt := map[string]string{}
	errRollback := fmt.Errorf("rollback")
	_, err := st.Update(context.Background(), func(tx store.Tx) error {
		if err := rebuildDerived(tx); err != nil {
			return err
		}
		for _, p := range []string{pfxCount, pfxSvcTGRef, pfxALSbyResource, pfxSvcByCert, pfxTGbyVpc} {
			if err := tx.Scan(p, "", func(k string, v []byte) (bool, error) {
				rebuilt[k] = string(v)
				return true, nil
			}); err != nil {
				return err
			}
		}
		return errRollback
	})
	if err != errRollback {
		t.Fatal(err)
	}
	if !maps.Equal(kept, rebuilt) {
		t.Fatalf("counters and indexes kept by the writes:\n%v\nrebuilt from the entities:\n%v", kept, rebuilt)
	}
}

func wantQuota(t *testing.T, err error, q model.Quota) {
	t.Helper()
	var me *model.Error
	if !asModelError(err, &me) || me.Kind != model.KindQuota || me.QuotaCode != q.Code {
		t.Fatalf("error = %v, want the %s quota", err, q.Name)
	}
}

// TestQuotasAtTheBoundary: the counters enforce each quota exactly — the
// last allowed create succeeds, the next fails, a delete frees one place —
// and per account.
func TestQuotasAtTheBoundary(t *testing.T) {
	e := newLREnv(t, model.Quotas{"services": 3, "target-groups": 2, "service-networks": 1})
	var svcs []*model.Service
	for i := range 3 {
		svcs = append(svcs, e.service(fmt.Sprintf("svc%d", i), ""))
	}
	_, err := e.s.CreateService(e.ctx, CreateServiceInput{Name: "svc3"})
	wantQuota(t, err, model.QuotaServices)
	other := WithCaller(context.Background(), model.Caller{Account: "444455556666", PrincipalARN: "arn:aws:iam::444455556666:root"})
	if _, err := e.s.CreateService(other, CreateServiceInput{Name: "svc3"}); err != nil {
		t.Fatalf("another account's first service: %v", err)
	}
	if _, err := e.s.DeleteService(e.ctx, svcs[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.CreateService(e.ctx, CreateServiceInput{Name: "svc3"}); err != nil {
		t.Fatalf("create after a delete freed a place: %v", err)
	}
	_, err = e.s.CreateService(e.ctx, CreateServiceInput{Name: "svc4"})
	wantQuota(t, err, model.QuotaServices)

	tg := func(name string) (*model.TargetGroup, error) {
		return e.s.CreateTargetGroup(e.ctx, CreateTargetGroupInput{Name: name, Type: model.TargetGroupTypeIP,
			Config: &model.TargetGroupConfig{Port: intPtr(80), Protocol: "HTTP", VpcIdentifier: "vpc-0123456789abcdef0"}})
	}
	first, err := tg("tg0")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg("tg1"); err != nil {
		t.Fatal(err)
	}
	_, err = tg("tg2")
	wantQuota(t, err, model.QuotaTargetGroups)
	if _, err := e.s.DeleteTargetGroup(e.ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := tg("tg2"); err != nil {
		t.Fatalf("create after a delete freed a place: %v", err)
	}

	sn, err := e.s.CreateServiceNetwork(e.ctx, CreateServiceNetworkInput{Name: "net0"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.s.CreateServiceNetwork(e.ctx, CreateServiceNetworkInput{Name: "net1"})
	wantQuota(t, err, model.QuotaServiceNetworks)
	if err := e.s.DeleteServiceNetwork(e.ctx, sn.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.CreateServiceNetwork(e.ctx, CreateServiceNetworkInput{Name: "net1"}); err != nil {
		t.Fatalf("create after a delete freed a place: %v", err)
	}
	// A refused create changed nothing.
	wantDerivedConsistent(t, e.st)
}

// TestCountsAfterDeletesAndCascades runs associations, listeners, rules
// and access log subscriptions through creates, deletes and DeleteService's
// cascade, and checks after each step that the counters and indexes equal
// a rebuild from the entities.
func TestCountsAfterDeletesAndCascades(t *testing.T) {
	e := newLREnv(t, model.Quotas{"service-associations-per-service-network": 2})
	sn, err := e.s.CreateServiceNetwork(e.ctx, CreateServiceNetworkInput{Name: "net"})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := e.service("alpha", ""), e.service("bravo", ""), e.service("charlie", "")
	assoc := func(svc *model.Service) (SNSADetail, error) {
		return e.s.CreateServiceNetworkServiceAssociation(e.ctx, CreateSNSAInput{ServiceNetworkIdentifier: sn.ID, ServiceIdentifier: svc.ID})
	}
	aa, err := assoc(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := assoc(b); err != nil {
		t.Fatal(err)
	}
	_, err = assoc(c)
	wantQuota(t, err, model.QuotaServiceAssociationsPerSN)
	wantDerivedConsistent(t, e.st)
	if _, err := e.s.DeleteServiceNetworkServiceAssociation(e.ctx, aa.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := assoc(c); err != nil {
		t.Fatalf("associate after a delete freed a place: %v", err)
	}
	wantDerivedConsistent(t, e.st)

	// alpha gets listeners and rules forwarding to target groups, and
	// access log subscriptions; DeleteService cascades through them.
	tg1, tg2 := e.targetGroup("HTTP"), e.targetGroup("HTTP")
	l := e.listener(a.ID, "web", "HTTP", nil, &model.RuleAction{Forward: &model.ForwardAction{TargetGroups: []model.WeightedTargetGroup{{TargetGroupIdentifier: tg1}}}})
	if _, err := e.s.CreateRule(e.ctx, CreateRuleInput{ServiceIdentifier: a.ID, ListenerIdentifier: l.ID, Name: "rule1", Priority: intPtr(1),
		Match:  lrPrefix("/x"),
		Action: &model.RuleAction{Forward: &model.ForwardAction{TargetGroups: []model.WeightedTargetGroup{{TargetGroupIdentifier: tg2}}}}}); err != nil {
		t.Fatal(err)
	}
	for _, dest := range []string{"arn:aws:logs:us-east-1:111122223333:log-group:g", "arn:aws:s3:::my-log-bucket"} {
		if _, err := e.s.CreateAccessLogSubscription(e.ctx, CreateALSInput{ResourceIdentifier: a.ID, DestinationARN: dest}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = e.s.CreateAccessLogSubscription(e.ctx, CreateALSInput{ResourceIdentifier: a.ID, DestinationARN: "arn:aws:s3:::other-bucket"})
	if me := (*model.Error)(nil); !asModelError(err, &me) || me.Kind != model.KindConflict {
		t.Fatalf("a second S3 subscription: %v, want a conflict (found through the index)", err)
	}
	if _, err := e.s.CreateAccessLogSubscription(e.ctx, CreateALSInput{ResourceIdentifier: b.ID, DestinationARN: "arn:aws:s3:::my-log-bucket"}); err != nil {
		t.Fatalf("another service's S3 subscription: %v", err)
	}
	wantDerivedConsistent(t, e.st)
	before := derived(t, e.st)
	if n := countWithPrefix(before, pfxSvcTGRef+a.ID+"/"); n != 2 {
		t.Fatalf("alpha has %d target group references in the index, want 2", n)
	}
	if n := countWithPrefix(before, pfxALSbyResource+a.ID+"/"); n != 2 {
		t.Fatalf("alpha has %d subscriptions in the index, want 2", n)
	}
	if _, err := e.s.DeleteService(e.ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	after := derived(t, e.st)
	for _, p := range []string{pfxSvcTGRef + a.ID + "/", pfxALSbyResource + a.ID + "/"} {
		if n := countWithPrefix(after, p); n != 0 {
			t.Fatalf("%d keys under %s after DeleteService", n, p)
		}
	}
	if n := countWithPrefix(after, pfxALSbyResource+b.ID+"/"); n != 1 {
		t.Fatalf("bravo's subscription left the index with alpha's (%d)", n)
	}
	if got := after[ownedCountKey(pfxService, "111122223333")]; got != "2" {
		t.Fatalf("service count %q after DeleteService, want 2", got)
	}
	wantDerivedConsistent(t, e.st)
}

func countWithPrefix(m map[string]string, p string) int {
	n := 0
	for k := range m {
		if strings.HasPrefix(k, p) {
			n++
		}
	}
	return n
}

// TestUpgradeRebuildsCountersAndIndexes: a store written before the
// counters and indexes existed (simulated by removing them and the layout
// mark) gets them back from Upgrade, and the quotas hold exactly again.
func TestUpgradeRebuildsCountersAndIndexes(t *testing.T) {
	e := newLREnv(t, model.Quotas{"services": 3, "service-associations-per-service-network": 2})
	sn, err := e.s.CreateServiceNetwork(e.ctx, CreateServiceNetworkInput{Name: "net"})
	if err != nil {
		t.Fatal(err)
	}
	a, b := e.service("alpha", ""), e.service("bravo", "")
	for _, svc := range []*model.Service{a, b} {
		if _, err := e.s.CreateServiceNetworkServiceAssociation(e.ctx, CreateSNSAInput{ServiceNetworkIdentifier: sn.ID, ServiceIdentifier: svc.ID}); err != nil {
			t.Fatal(err)
		}
	}
	tg := e.targetGroup("HTTP")
	e.listener(a.ID, "web", "HTTP", nil, &model.RuleAction{Forward: &model.ForwardAction{TargetGroups: []model.WeightedTargetGroup{{TargetGroupIdentifier: tg}}}})
	if _, err := e.s.CreateAccessLogSubscription(e.ctx, CreateALSInput{ResourceIdentifier: a.ID, DestinationARN: "arn:aws:s3:::my-log-bucket"}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Upgrade(e.ctx); err != nil {
		t.Fatal(err)
	}
	want := derived(t, e.st)
	if len(want) == 0 {
		t.Fatal("no counters or indexes")
	}
	// The old layout: no derived keys, no layout mark.
	if _, err := e.st.Update(e.ctx, func(tx store.Tx) error {
		for _, p := range []string{pfxCount, pfxSvcTGRef, pfxALSbyResource, pfxSvcByCert, pfxTGbyVpc} {
			if err := deletePrefix(tx, p); err != nil {
				return err
			}
		}
		return tx.Delete(layoutKey)
	}); err != nil {
		t.Fatal(err)
	}
	// Without the upgrade the quota would count nothing: a fourth service
	// would pass. Upgrade brings the counts back.
	if err := e.s.Upgrade(e.ctx); err != nil {
		t.Fatal(err)
	}
	if got := derived(t, e.st); !maps.Equal(got, want) {
		t.Fatalf("after Upgrade:\n%v\nwant:\n%v", got, want)
	}
	e.service("charlie", "")
	_, err = e.s.CreateService(e.ctx, CreateServiceInput{Name: "delta"})
	wantQuota(t, err, model.QuotaServices)
	// The association quota counts the two associations made before.
	svcs, _, err := e.s.ListServices(e.ctx, Page{})
	if err != nil {
		t.Fatal(err)
	}
	var charlie string
	for _, s := range svcs {
		if s.Name == "charlie" {
			charlie = s.ID
		}
	}
	_, err = e.s.CreateServiceNetworkServiceAssociation(e.ctx, CreateSNSAInput{ServiceNetworkIdentifier: sn.ID, ServiceIdentifier: charlie})
	wantQuota(t, err, model.QuotaServiceAssociationsPerSN)
	// A second Upgrade on a current store changes nothing.
	rev, _ := e.st.Revision(e.ctx)
	if err := e.s.Upgrade(e.ctx); err != nil {
		t.Fatal(err)
	}
	if rev2, _ := e.st.Revision(e.ctx); rev2 != rev {
		t.Fatalf("Upgrade of a current store wrote (revision %d -> %d)", rev, rev2)
	}
	wantDerivedConsistent(t, e.st)
}
