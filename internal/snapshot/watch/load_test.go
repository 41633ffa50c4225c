package watch

import (
	"context"
	"path/filepath"
	"testing"

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
	if len(s3.Services) != 1 || len(l.cache) != 1 {
		t.Fatalf("deleted entity still loaded or cached: %d services, %d cached", len(s3.Services), len(l.cache))
	}
	var fresh *snapshot.State
	_ = st.View(ctx, func(tx store.ReadTx) error { fresh, err = Load(tx); return err })
	if len(fresh.Services) != 1 || fresh.Services[0].Name != "b2" {
		t.Fatalf("uncached Load: %+v", fresh.Services)
	}
}
