package service

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/embedded"
)

// TestLegacyDomainIndex: a store written by a version that kept the global
// custom domain index (name/domain/<domain> -> service ID, and refused a
// second service with the same domain) still loads and works: the old keys
// block nothing, and a key goes with the service it names.
func TestLegacyDomainIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	ctx := WithCaller(context.Background(), model.Caller{Account: "111122223333", PrincipalARN: "arn:aws:iam::111122223333:root"})
	open := func() (store.Store, *Service) {
		st, err := embedded.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		return st, New(st, Config{DNSToken: "abc1234"})
	}
	st, s := open()
	old, err := s.CreateService(ctx, CreateServiceInput{Name: "old", CustomDomainName: "Legacy.Example.com"})
	if err != nil {
		t.Fatal(err)
	}
	// What the older version wrote along with the service.
	legacyKey := legacyDomainPrefix + "legacy.example.com"
	if _, err := st.Update(ctx, func(tx store.Tx) error { return tx.Put(legacyKey, []byte(old.ID)) }); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st, s = open()
	defer st.Close()
	keyPresent := func() bool {
		var ok bool
		if err := st.View(ctx, func(tx store.ReadTx) error {
			_, ok, err = tx.Get(legacyKey)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	dup, err := s.CreateService(ctx, CreateServiceInput{Name: "new", CustomDomainName: "legacy.example.com"})
	if err != nil {
		t.Fatalf("a second service with the domain of the old index: %v", err)
	}
	if _, err := s.DeleteService(ctx, dup.ID); err != nil {
		t.Fatal(err)
	}
	if !keyPresent() {
		t.Fatal("deleting another service with the domain removed the old service's key")
	}
	if _, err := s.DeleteService(ctx, old.ID); err != nil {
		t.Fatal(err)
	}
	if keyPresent() {
		t.Fatal("the old index key outlived its service")
	}
}
