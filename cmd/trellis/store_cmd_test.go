package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/embedded"
	"github.com/trellis-net/trellis/internal/store/etcd"
	"github.com/trellis-net/trellis/internal/store/etcd/etcdtest"
)

// The store flags are checked before anything starts, with the flag named.
func TestStoreFlagsRejected(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--store", "zk"}, `--store "zk": want embedded or etcd`},
		{[]string{"--store", "etcd"}, "--store etcd: needs --etcd-endpoints"},
		{[]string{"--etcd-endpoints", "http://127.0.0.1:2379"}, "--etcd-endpoints: needs --store etcd"},
		{[]string{"--etcd-prefix", "/x/"}, "--etcd-prefix: needs --store etcd"},
		{[]string{"--store", "etcd", "--etcd-endpoints", "127.0.0.1:2379"}, `--etcd-endpoints: etcd endpoint "127.0.0.1:2379": want http://HOST:PORT`},
		{[]string{"--store", "etcd", "--etcd-endpoints", "http://h:1", "--etcd-prefix", "trellis"}, "--etcd-prefix: etcd prefix \"trellis\""},
		{[]string{"--store", "etcd", "--etcd-endpoints", "http://h:1", "--etcd-cert", "c.pem"}, "--etcd-cert and --etcd-key are given together"},
		{[]string{"--store", "etcd", "--etcd-endpoints", "http://h:1", "--etcd-cacert", "/nonexistent.pem"}, "--etcd-cacert"},
		{[]string{"--node-name", "a b"}, `--node-name "a b"`},
		{[]string{"--node-name", ""}, `--node-name ""`},
		{[]string{"--roles", "api,proxy"}, `--roles: unknown role "proxy"`},
		{[]string{"--roles", ""}, "--roles: want one or more of api, dataplane, health"},
		{[]string{"--roles", "api"}, "--roles api: needs --store etcd"},
		{[]string{"--store", "etcd", "--etcd-endpoints", "http://h:1", "--roles", "health,health"}, `--roles: role "health" given twice`},
	} {
		serveRejects(t, tc.args, tc.want)
	}
	cmd := serveCommand()
	for _, n := range []string{"--store", "--etcd-endpoints", "--etcd-prefix", "--etcd-cacert", "--etcd-cert", "--etcd-key", "--node-name", "--roles", "trellis store copy"} {
		if !strings.Contains(cmd.Long, n) && cmd.Flags().Lookup(strings.TrimPrefix(n, "--")) == nil {
			t.Errorf("serve does not know %s", n)
		}
	}
	if !strings.Contains(cmd.Long, "--store etcd") || !strings.Contains(cmd.Long, "TRELLIS_ROOT_ACCESS_KEY_ID") {
		t.Error("serve --help does not explain --store etcd")
	}
	if f := cmd.Flags().Lookup("etcd-prefix"); f == nil || f.DefValue != "/trellis/" {
		t.Errorf("--etcd-prefix default: %+v", f)
	}
}

// runStore runs `trellis store ARGS` and returns its output and error.
func runStore(args ...string) (string, error) {
	cmd := storeCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// dump reads every key of a store.
func dump(t *testing.T, s store.Store) map[string]string {
	t.Helper()
	m := map[string]string{}
	if err := s.View(context.Background(), func(tx store.ReadTx) error {
		return tx.Scan("", "", func(k string, v []byte) (bool, error) { m[k] = string(v); return true, nil })
	}); err != nil {
		t.Fatal(err)
	}
	return m
}

func dumpEmbedded(t *testing.T, dir string) map[string]string {
	t.Helper()
	s, err := embedded.Open(filepath.Join(dir, "trellis.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return dump(t, s)
}

func dumpEtcd(t *testing.T, eps []string, prefix string) map[string]string {
	t.Helper()
	s, err := etcd.Open(context.Background(), etcd.Config{Endpoints: eps, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return dump(t, s)
}

// TestStoreCopy: a data directory into etcd and back, every key and value
// (binary ones, more than one batch); a non-empty destination is refused
// without --force and made equal with it; a data directory in use is
// refused.
func TestStoreCopy(t *testing.T) {
	ctx := context.Background()
	c := etcdtest.Start(t)
	ep := strings.Join(c.Endpoints(), ",")
	src := t.TempDir()
	s, err := embedded.Open(filepath.Join(src, "trellis.db"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := range 250 {
		k := fmt.Sprintf("svc/%03d", i)
		want[k] = fmt.Sprintf(`{"id":%d,"bin":"\u0000%c"}`, i, rune(i))
	}
	want["meta/dns-token"] = "abc1234"
	want["z/\xff"] = "\x00\x01\xfe"
	if _, err := s.Update(ctx, func(tx store.Tx) error {
		for k, v := range want {
			if err := tx.Put(k, []byte(v)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// In use: refused.
	if _, err := runStore("copy", "--from", "embedded:"+src, "--to", "etcd:"+ep, "--etcd-prefix", "/c/"); err == nil ||
		!strings.Contains(err.Error(), "in use") {
		t.Fatalf("copy from a data directory in use: %v", err)
	}
	s.Close()

	out, err := runStore("copy", "--from", "embedded:"+src, "--to", "etcd:"+ep, "--etcd-prefix", "/c/")
	if err != nil || !strings.Contains(out, "copied 252 keys") {
		t.Fatalf("copy into etcd: %q, %v", out, err)
	}
	if got := dumpEtcd(t, c.Endpoints(), "/c/"); !maps.Equal(got, want) {
		t.Fatalf("etcd holds %d keys, want %d equal to the source", len(got), len(want))
	}
	// Again: the destination is not empty.
	if _, err := runStore("copy", "--from", "embedded:"+src, "--to", "etcd:"+ep, "--etcd-prefix", "/c/"); err == nil ||
		!strings.Contains(err.Error(), "not empty") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("copy into a non-empty etcd prefix: %v", err)
	}

	// Change etcd, then copy back: into a new directory, and with
	// --force over the first.
	es, err := etcd.Open(ctx, etcd.Config{Endpoints: c.Endpoints(), Prefix: "/c/"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := es.Update(ctx, func(tx store.Tx) error {
		_ = tx.Delete("svc/007")
		_ = tx.Put("svc/new", []byte("n"))
		return tx.Put("svc/001", []byte("changed"))
	}); err != nil {
		t.Fatal(err)
	}
	es.Close()
	delete(want, "svc/007")
	want["svc/new"], want["svc/001"] = "n", "changed"
	back := filepath.Join(t.TempDir(), "back")
	if out, err := runStore("copy", "--from", "etcd:"+ep, "--etcd-prefix", "/c/", "--to", "embedded:"+back); err != nil {
		t.Fatalf("copy back: %q, %v", out, err)
	}
	if got := dumpEmbedded(t, back); !maps.Equal(got, want) {
		t.Fatalf("the copy back holds %d keys, want %d equal to etcd", len(got), len(want))
	}
	if _, err := runStore("copy", "--from", "etcd:"+ep, "--etcd-prefix", "/c/", "--to", "embedded:"+src); err == nil ||
		!strings.Contains(err.Error(), "not empty") {
		t.Fatalf("copy back over a non-empty directory: %v", err)
	}
	if out, err := runStore("copy", "--from", "etcd:"+ep, "--etcd-prefix", "/c/", "--to", "embedded:"+src, "--force"); err != nil {
		t.Fatalf("copy back --force: %q, %v", out, err)
	}
	if got := dumpEmbedded(t, src); !maps.Equal(got, want) {
		t.Fatalf("after --force the directory holds %d keys (svc/007 %q), want %d equal to etcd", len(got), got["svc/007"], len(want))
	}
	// Bad specs.
	for _, args := range [][]string{{"--from", "embedded:" + t.TempDir() + "/none", "--to", "etcd:" + ep},
		{"--from", "bbolt:/x", "--to", "etcd:" + ep}, {"--from", "embedded:" + src, "--to", "etcd:localhost"}} {
		if _, err := runStore(append([]string{"copy"}, args...)...); err == nil {
			t.Errorf("copy %v succeeded", args)
		}
	}
}
