package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
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

func TestLoaderReusesUnchangedEntities(t *testing.T) {
	ctx := context.Background()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	put := func(key, val string) {
		if _, err := st.Update(ctx, func(tx store.Tx) error { return tx.Put(key, []byte(val)) }); err != nil {
			t.Fatal(err)
		}
	}
	del := func(key string) {
		if _, err := st.Update(ctx, func(tx store.Tx) error { return tx.Delete(key) }); err != nil {
			t.Fatal(err)
		}
	}
	var l Loader
	load := func() *snapshot.State {
		var s *snapshot.State
		if err := st.View(ctx, func(tx store.ReadTx) error { s, err = l.Load(tx); return err }); err != nil {
			t.Fatal(err)
		}
		s.Complete()
		return s
	}
	put(schema.Service+"svc-a", `{"id":"svc-a","name":"a"}`)
	put(schema.Service+"svc-b", `{"id":"svc-b","name":"b"}`)
	s1 := load()
	put(schema.Service+"svc-b", `{"id":"svc-b","name":"b2"}`)
	s2 := load()
	if s1.Services[0] != s2.Services[0] {
		t.Fatal("an unchanged service was decoded again")
	}
	if s2.Services[1] == s1.Services[1] || s2.Services[1].Name != "b2" || s1.Services[1].Name != "b" {
		t.Fatalf("a changed service was not decoded again, or the old state changed: %q %q", s1.Services[1].Name, s2.Services[1].Name)
	}
	del(schema.Service + "svc-a")
	s3 := load()
	if cached := l.tableOf(schema.Service + "x").(*tableOf[model.Service]).n; len(s3.Services) != 1 || cached != 1 {
		t.Fatalf("deleted entity still loaded or cached: %d services, %d cached", len(s3.Services), cached)
	}
	if l.Full != 1 {
		t.Fatalf("%d full reads, want only the first", l.Full)
	}
	var fresh *snapshot.State
	_ = st.View(ctx, func(tx store.ReadTx) error { fresh, err = Load(tx); return err })
	if len(fresh.Services) != 1 || fresh.Services[0].Name != "b2" {
		t.Fatalf("uncached Load: %+v", fresh.Services)
	}
}

// TestLoaderFollowsChangesLikeAFullLoad: after random batches of puts and
// deletes across every kind the snapshot reads (and keys it does not),
// the Loader that reads only the changed keys gives the same state as a
// fresh Load of the same view; and when the store's change history no
// longer covers it, it reads everything and still agrees.
func TestLoaderFollowsChangesLikeAFullLoad(t *testing.T) {
	// Tiny chunks, so that inserts split them and deletes empty them.
	defer func(n int) { chunkSize = n }(chunkSize)
	chunkSize = 2
	ctx := context.Background()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rng := rand.New(rand.NewPCG(15, 1))
	prefixes := []string{schema.ServiceNetwork, schema.Service, schema.Listener, schema.Rule, schema.TargetGroup, schema.Target,
		schema.SNSA, schema.SNVA, schema.AuthPolicy, schema.VPC, schema.Account, schema.Principal, schema.AccessKey,
		schema.ALS, schema.SecurityGroup, schema.Instance, schema.LoadBalancer, schema.DomainVerification, schema.Name, schema.Count, schema.TGRef}
	value := func(p, id string) string {
		switch p {
		case schema.Name, schema.Count, schema.TGRef:
			return id // not JSON: the loader must not read these
		case schema.Target:
			return fmt.Sprintf(`{"targetGroupId":"tg-%d","id":%q,"port":%d}`, rng.IntN(3), id, rng.IntN(3)+80)
		}
		return fmt.Sprintf(`{"id":%q,"name":"n%d","account":"11112222333%d"}`, id, rng.IntN(1000), rng.IntN(2))
	}
	var l Loader
	for round := range 300 {
		ops := 1 + rng.IntN(8)
		if _, err := st.Update(ctx, func(tx store.Tx) error {
			for range ops {
				p := prefixes[rng.IntN(len(prefixes))]
				k := p + fmt.Sprintf("id%02d", rng.IntN(30))
				if p == schema.Target {
					k = p + fmt.Sprintf("tg-%d/10.0.0.%d/80", rng.IntN(3), rng.IntN(20))
				}
				if rng.IntN(3) == 0 {
					if err := tx.Delete(k); err != nil {
						return err
					}
					continue
				}
				if err := tx.Put(k, []byte(value(p, k[len(p):]))); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if rng.IntN(4) == 0 {
			continue // several revisions between loads
		}
		_ = st.View(ctx, func(tx store.ReadTx) error {
			got, err := l.Load(tx)
			if err != nil {
				t.Fatal(err)
			}
			got.Complete()
			want, err := Load(tx)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d (revision %d): the incremental state differs from a full Load:\n%+v\n%+v", round, tx.Revision(), got, want)
			}
			return nil
		})
	}
	if l.Full != 1 {
		t.Fatalf("%d full reads, want only the first", l.Full)
	}
}

// TestWatcherCompileEqualsFullCompile: the store's change log, the
// Loader's Change and Lookup, and snapshot.Incremental together give, after
// random writes of services, listeners, rules, target groups, targets and
// policies (and now and then of a network), the snapshot a full Load and
// Compile of the same view give.
func TestWatcherCompileEqualsFullCompile(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { watcherCompileEqualsFull(t, seed) })
	}
}

func watcherCompileEqualsFull(t *testing.T, seed uint64) {
	defer func(n int) { chunkSize = n }(chunkSize)
	chunkSize = 3
	ctx := context.Background()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rng := rand.New(rand.NewPCG(15, seed))
	acct := "111122223333"
	put := func(tx store.Tx, k string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return tx.Put(k, b)
	}
	svcID := func(i int) string { return fmt.Sprintf("svc-%017x", i) }
	tgID := func(i int) string { return fmt.Sprintf("tg-%017x", i) }
	lID := func(i int) string { return fmt.Sprintf("listener-%017x", i) }
	// A network, a VPC reaching it, and services 1-4 associated.
	if _, err := st.Update(ctx, func(tx store.Tx) error {
		sn := &model.ServiceNetwork{Meta: model.Meta{ID: "sn-00000000000000001", Account: acct}, Name: "net"}
		if err := put(tx, schema.ServiceNetwork+sn.ID, sn); err != nil {
			return err
		}
		vpc := &model.VPC{ID: "vpc-00000000000000001", Account: acct, Mode: model.VPCModeHost, IngressAddress: "127.171.0.1"}
		if err := put(tx, schema.VPC+vpc.ID, vpc); err != nil {
			return err
		}
		if err := put(tx, schema.SNVA+"snva-1", &model.ServiceNetworkVpcAssociation{Meta: model.Meta{ID: "snva-1", Account: acct},
			ServiceNetworkID: sn.ID, VpcID: vpc.ID}); err != nil {
			return err
		}
		for i := 1; i <= 4; i++ {
			if err := put(tx, schema.SNSA+fmt.Sprint("snsa-", i), &model.ServiceNetworkServiceAssociation{Meta: model.Meta{ID: fmt.Sprint("snsa-", i)},
				ServiceNetworkID: sn.ID, ServiceID: svcID(i)}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	o := snapshot.Options{Region: "us-east-1", DrainTime: time.Minute, Now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	var l Loader
	var inc snapshot.Incremental
	incremental := 0
	for round := range 200 {
		if _, err := st.Update(ctx, func(tx store.Tx) error {
			for range 1 + rng.IntN(3) {
				i := 1 + rng.IntN(6)
				switch rng.IntN(7) {
				case 0:
					if rng.IntN(4) == 0 {
						if err := tx.Delete(schema.Service + svcID(i)); err != nil {
							return err
						}
						continue
					}
					s := &model.Service{Meta: model.Meta{ID: svcID(i), Account: acct}, Name: fmt.Sprint("s", rng.IntN(9)),
						CustomDomainName: []string{"", "", "x.example.com", "y.example.com"}[rng.IntN(4)],
						DNS:              &model.DNSEntry{DomainName: fmt.Sprintf("s-%s.abc1234.vpc-lattice-svcs.us-east-1.on.aws", svcID(i))}}
					if err := put(tx, schema.Service+s.ID, s); err != nil {
						return err
					}
				case 1:
					ln := &model.Listener{Meta: model.Meta{ID: lID(i)}, ServiceID: svcID(i), Protocol: "HTTP", Port: 80}
					if err := put(tx, schema.Listener+svcID(i)+"/"+ln.ID, ln); err != nil {
						return err
					}
				case 2:
					w := rng.IntN(3) * 50
					r := &model.Rule{Meta: model.Meta{ID: fmt.Sprintf("rule-%017x", i)}, ServiceID: svcID(i), ListenerID: lID(i), IsDefault: true,
						Action: model.RuleAction{Forward: &model.ForwardAction{TargetGroups: []model.WeightedTargetGroup{
							{TargetGroupIdentifier: tgID(i), Weight: &w}, {TargetGroupIdentifier: tgID(1 + rng.IntN(6))}}}}}
					if err := put(tx, schema.Rule+lID(i)+"/"+r.ID, r); err != nil {
						return err
					}
				case 3:
					port := 80
					g := &model.TargetGroup{Meta: model.Meta{ID: tgID(i), Account: acct}, Type: model.TargetGroupTypeIP,
						Config: &model.TargetGroupConfig{Port: &port, Protocol: "HTTP"}}
					if err := put(tx, schema.TargetGroup+g.ID, g); err != nil {
						return err
					}
				case 4:
					tt := &model.Target{TargetGroupID: tgID(i), ID: fmt.Sprintf("10.0.0.%d", rng.IntN(5)), Port: 80}
					k := schema.Target + tt.TargetGroupID + "/" + tt.ID + "/80"
					if rng.IntN(3) == 0 {
						if err := tx.Delete(k); err != nil {
							return err
						}
						continue
					}
					if rng.IntN(3) == 0 {
						at := o.Now.Add(-30 * time.Second)
						tt.DeregisteredAt = &at
					}
					if err := put(tx, k, tt); err != nil {
						return err
					}
				case 5:
					if err := put(tx, schema.AuthPolicy+svcID(i), &model.AuthPolicy{ResourceID: svcID(i),
						Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`}); err != nil {
						return err
					}
				case 6:
					if rng.IntN(5) == 0 { // something the incremental compile does not follow
						if err := put(tx, schema.ServiceNetwork+"sn-00000000000000001", &model.ServiceNetwork{
							Meta: model.Meta{ID: "sn-00000000000000001", Account: acct}, Name: fmt.Sprint("net", round)}); err != nil {
							return err
						}
					}
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		o.Now = o.Now.Add(time.Duration(rng.IntN(20)) * time.Second)
		_ = st.View(ctx, func(tx store.ReadTx) error {
			s, err := l.Load(tx)
			if err != nil {
				t.Fatal(err)
			}
			fulls := inc.Fulls
			got := inc.Compile(s, l.Change(), &l, o)
			if inc.Fulls == fulls {
				incremental++
			}
			fresh, err := Load(tx)
			if err != nil {
				t.Fatal(err)
			}
			if want := snapshot.Compile(fresh, o); !reflect.DeepEqual(snapshot.WithoutHistory(got), want) {
				t.Fatalf("round %d: change %+v: the watcher's snapshot differs from a full compile", round, l.Change())
			}
			return nil
		})
	}
	if incremental < 100 {
		t.Fatalf("only %d of 200 compiles were incremental", incremental)
	}
}

// The Loader leaves the tables only a full compile reads to the state's
// Pending, which fills them as of its Load; completing a state after the
// Loader loaded again would mix two revisions, and panics.
func TestLoaderDefersLargeTables(t *testing.T) {
	ctx := context.Background()
	st, err := embedded.Open(filepath.Join(t.TempDir(), "trellis.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	put := func(key, val string) {
		if _, err := st.Update(ctx, func(tx store.Tx) error { return tx.Put(key, []byte(val)) }); err != nil {
			t.Fatal(err)
		}
	}
	var l Loader
	load := func() *snapshot.State {
		var s *snapshot.State
		if err := st.View(ctx, func(tx store.ReadTx) error { s, err = l.Load(tx); return err }); err != nil {
			t.Fatal(err)
		}
		return s
	}
	put(schema.Target+"tg-1/10.0.0.1/80", `{"targetGroupId":"tg-1","id":"10.0.0.1","port":80}`)
	put(schema.Account+"111122223333", `{"id":"111122223333"}`)
	s := load()
	if len(s.Targets) != 0 || len(s.Accounts) != 1 || s.Pending == nil {
		t.Fatalf("before Complete: %d targets, %d accounts, pending %v; want 0, 1, set", len(s.Targets), len(s.Accounts), s.Pending != nil)
	}
	s.Complete()
	if len(s.Targets) != 1 || s.Pending != nil {
		t.Fatalf("after Complete: %d targets, pending %v", len(s.Targets), s.Pending != nil)
	}
	stale := load()
	put(schema.Target+"tg-1/10.0.0.2/80", `{"targetGroupId":"tg-1","id":"10.0.0.2","port":80}`)
	fresh := load()
	defer func() {
		if recover() == nil {
			t.Fatal("a state completed after the next Load did not panic")
		}
		fresh.Complete()
		if len(fresh.Targets) != 2 {
			t.Fatalf("the fresh state has %d targets, want 2", len(fresh.Targets))
		}
	}()
	stale.Complete()
}
