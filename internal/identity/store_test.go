package identity

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/sigv4"
)

type fakeStore map[string]*model.AccessKey

var errBroken = errors.New("store broken")

func (f fakeStore) LookupAccessKey(_ context.Context, id string) (*model.AccessKey, error) {
	if id == "BROKEN" {
		return nil, errBroken
	}
	if k, ok := f[id]; ok {
		return k, nil
	}
	return nil, &model.Error{Kind: model.KindNotFound, Message: "not found"}
}

func TestChain(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	later, earlier := now.Add(time.Minute), now.Add(-time.Minute)
	root := Root{Account: "000000000000", AccessKeyID: "AKIAROOT", SecretAccessKey: "root-secret"}
	stored := fakeStore{
		"AKIAUSER":     {ID: "AKIAUSER", Secret: "u", PrincipalARN: "arn:aws:iam::111122223333:user/u", Account: "111122223333", Status: "Active"},
		"AKIANOSTATUS": {ID: "AKIANOSTATUS", Secret: "n", PrincipalARN: "arn:aws:iam::111122223333:user/u", Account: "111122223333"},
		"AKIAOFF":      {ID: "AKIAOFF", Secret: "o", PrincipalARN: "arn:aws:iam::111122223333:user/u", Account: "111122223333", Status: "Inactive"},
		"ASIALIVE": {ID: "ASIALIVE", Secret: "l", PrincipalARN: "arn:aws:iam::111122223333:role/r", Account: "111122223333", Status: "Active",
			SessionToken: "tok", SessionARN: "arn:aws:sts::111122223333:assumed-role/r/s", SessionName: "s", Expiration: &later},
		"ASIADEAD": {ID: "ASIADEAD", Secret: "d", PrincipalARN: "arn:aws:iam::111122223333:role/r", Account: "111122223333", Status: "Active",
			SessionToken: "tok", SessionARN: "arn:aws:sts::111122223333:assumed-role/r/s", Expiration: &earlier},
		// A stored key with the root's ID does not shadow the root.
		"AKIAROOT": {ID: "AKIAROOT", Secret: "impostor", Account: "111122223333", Status: "Active"},
	}
	c := &Chain{Roots: NewKeys(root), Stored: stored, Now: func() time.Time { return now }}
	var _ sigv4.KeyStore = c

	got, err := c.LookupAccessKey(context.Background(), "AKIAROOT")
	if err != nil || got.SecretAccessKey != "root-secret" || got.PrincipalARN != "arn:aws:iam::000000000000:root" || got.Account != "000000000000" {
		t.Fatalf("root: %+v %v", got, err)
	}
	got, err = c.LookupAccessKey(context.Background(), "AKIAUSER")
	if err != nil || got.SecretAccessKey != "u" || got.PrincipalARN != "arn:aws:iam::111122223333:user/u" || got.Account != "111122223333" || got.SessionToken != "" {
		t.Fatalf("user: %+v %v", got, err)
	}
	if _, err := c.LookupAccessKey(context.Background(), "AKIANOSTATUS"); err != nil {
		t.Fatalf("a key without status is active: %v", err)
	}
	got, err = c.LookupAccessKey(context.Background(), "ASIALIVE")
	if err != nil || got.SessionToken != "tok" || got.PrincipalARN != "arn:aws:sts::111122223333:assumed-role/r/s" || got.Account != "111122223333" {
		t.Fatalf("session: %+v %v", got, err)
	}
	for _, id := range []string{"AKIAOFF", "ASIADEAD", "AKIANONE"} {
		if _, err := c.LookupAccessKey(context.Background(), id); !errors.Is(err, sigv4.ErrUnknownAccessKey) {
			t.Errorf("%s: got %v, want ErrUnknownAccessKey", id, err)
		}
	}
	// The session expires exactly at its expiration.
	now = later
	if _, err := c.LookupAccessKey(context.Background(), "ASIALIVE"); !errors.Is(err, sigv4.ErrUnknownAccessKey) {
		t.Errorf("session at its expiration: %v", err)
	}
	// A store failure is a server fault, not an unknown key.
	if _, err := c.LookupAccessKey(context.Background(), "BROKEN"); !errors.Is(err, errBroken) || errors.Is(err, sigv4.ErrUnknownAccessKey) {
		t.Errorf("broken store: %v", err)
	}
	// Without a store, only the roots.
	bare := NewChain(NewKeys(root), nil)
	if _, err := bare.LookupAccessKey(context.Background(), "AKIAUSER"); !errors.Is(err, sigv4.ErrUnknownAccessKey) {
		t.Errorf("no store: %v", err)
	}
}

func TestLoadRoot(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	r, src, path, err := LoadRoot(dir, getenv)
	if err != nil || src != Generated || path == "" || r.Account != DefaultAccount || len(r.AccessKeyID) != 20 || len(r.SecretAccessKey) != 40 {
		t.Fatalf("generated: %+v %v %q %v", r, src, path, err)
	}
	again, src, _, err := LoadRoot(dir, getenv)
	if err != nil || src != FromFile || again != r {
		t.Fatalf("from file: %+v %v %v", again, src, err)
	}
	env["TRELLIS_ROOT_ACCESS_KEY_ID"], env["TRELLIS_ROOT_SECRET_ACCESS_KEY"], env["TRELLIS_ACCOUNT_ID"] = "AKIAENV", "env-secret", "123456789012"
	r, src, _, err = LoadRoot(dir, getenv)
	if err != nil || src != FromEnvironment || r.AccessKeyID != "AKIAENV" || r.Account != "123456789012" || r.PrincipalARN() != "arn:aws:iam::123456789012:root" {
		t.Fatalf("environment: %+v %v %v", r, src, err)
	}
	env["TRELLIS_ROOT_SECRET_ACCESS_KEY"] = ""
	if _, _, _, err := LoadRoot(dir, getenv); err == nil {
		t.Fatal("half the root credentials accepted")
	}
	env["TRELLIS_ACCOUNT_ID"] = "12"
	if _, _, _, err := LoadRoot(dir, getenv); err == nil {
		t.Fatal("a bad account ID accepted")
	}
}
