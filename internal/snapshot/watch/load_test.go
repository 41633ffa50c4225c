package watch

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"

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
		schema.ALS, schema.SecurityGroup, schema.Instance, schema.LoadBalancer, schema.Name, schema.Count, schema.TGRef}
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
