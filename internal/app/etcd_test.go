package app_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/ca"
	"github.com/trellis-net/trellis/internal/store/etcd"
	"github.com/trellis-net/trellis/internal/store/etcd/etcdtest"
)

// etcdOptions are the options of a node on the etcd cluster c: the shared
// root credentials and CA (required with etcd), a data directory of its own.
func etcdOptions(t *testing.T, c *etcdtest.Cluster, caDir string) apptest.Options {
	return apptest.Options{Store: app.StoreEtcd, Etcd: etcd.Config{Endpoints: c.Endpoints(), Prefix: "/trellis/"},
		NodeName:   "node-a",
		Env:        map[string]string{"TRELLIS_ROOT_ACCESS_KEY_ID": "AKIAETCDTESTROOT0001", "TRELLIS_ROOT_SECRET_ACCESS_KEY": "etcd-test-secret"},
		CACertFile: filepath.Join(caDir, ca.CertFile), CAKeyFile: filepath.Join(caDir, ca.KeyFile)}
}

// TestServeOnEtcd: Trellis on a real etcd serves the API and the data
// plane; a node started afresh on the same etcd (another data directory)
// has the state and serves it.
func TestServeOnEtcd(t *testing.T) {
	c := etcdtest.Start(t)
	caDir := t.TempDir()
	if _, _, _, err := ca.Load(caDir, "", ""); err != nil { // generates the shared CA's files
		t.Fatal(err)
	}
	o := etcdOptions(t, c, caDir)
	w := newWorld(t, o)
	b := newBackend(t, "on-etcd")
	tg := w.targetGroup("etcd", nil, b)
	need(w.c.CreateListener(ctx, &vpclattice.CreateListenerInput{ServiceIdentifier: w.svc.Id, Name: aws.String("web"),
		Protocol: types.ListenerProtocolHttp, Port: aws.Int32(18097), DefaultAction: &types.RuleActionMemberForward{Value: types.ForwardAction{
			TargetGroups: []types.WeightedTargetGroup{{TargetGroupIdentifier: tg.Id}}}}})).ok(t)
	ingress := w.clientVPC("vpc-0000000000000e7cd", w.sn.Id)
	eventually(t, 5*time.Second, "the request served through etcd's state", func() bool {
		st, body, _ := get(t, ingress, 18097, "orders.internal", "/x", nil)
		return st == 200 && body == "on-etcd"
	})
	// Nothing of the state is in the data directory.
	if m, _ := filepath.Glob(filepath.Join(w.s.DataDir, "trellis.db")); len(m) != 0 {
		t.Fatalf("an embedded store in the data directory of an etcd node: %v", m)
	}

	// The node stops; another starts on the same etcd with a new data
	// directory: the service is there and served.
	if err := w.s.App.Close(); err != nil {
		t.Fatal(err)
	}
	o.NodeName = "node-b"
	s2 := apptest.StartWith(t, o)
	c2 := vpclattice.New(vpclattice.Options{Region: s2.Region, BaseEndpoint: aws.String(s2.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(s2.AccessKeyID, s2.SecretAccessKey, ""), RetryMaxAttempts: 1})
	got := need(c2.GetService(ctx, &vpclattice.GetServiceInput{ServiceIdentifier: w.svc.Id})).ok(t)
	if aws.ToString(got.Name) != "orders" {
		t.Fatalf("node B's GetService: %+v", got)
	}
	eventually(t, 5*time.Second, "node B serving the request", func() bool {
		st, body, _ := get(t, ingress, 18097, "orders.internal", "/y", nil)
		return st == 200 && body == "on-etcd"
	})
}

// TestServeOnEtcdNeedsSharedSecrets: with etcd, root credentials and the CA
// must be given (every node shares them), never generated per node.
func TestServeOnEtcdNeedsSharedSecrets(t *testing.T) {
	cfg := app.Config{DataDir: t.TempDir(), APIAddr: "127.0.0.1:0", Store: app.StoreEtcd,
		Etcd: etcd.Config{Endpoints: []string{"http://127.0.0.1:1"}}, Getenv: func(string) string { return "" }}
	if _, err := app.Start(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "TRELLIS_ROOT_ACCESS_KEY_ID") {
		t.Fatalf("no root credentials: %v", err)
	}
	env := map[string]string{"TRELLIS_ROOT_ACCESS_KEY_ID": "AKIAX", "TRELLIS_ROOT_SECRET_ACCESS_KEY": "s"}
	cfg.Getenv = func(k string) string { return env[k] }
	if _, err := app.Start(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "--ca-cert") {
		t.Fatalf("no CA: %v", err)
	}
}
