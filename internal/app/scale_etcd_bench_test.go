package app_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/ca"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/embedded"
	"github.com/trellis-net/trellis/internal/store/etcd"
	"github.com/trellis-net/trellis/internal/store/etcd/etcdtest"
)

// Store backends of the scale benchmarks.
const (
	backendEmbedded = "embedded"
	backendEtcd     = "etcd"
)

// newScaleWorld starts the server of a scale benchmark on backend, with n
// services of 10 targets each populated (populate). On etcd (a real
// single-member etcd, etcdtest) the installation is populated on an
// embedded store first and then copied into etcd with store.Copy, the
// code of `trellis store copy`, in batches: populating 10,000 services
// with single writes through etcd would take far longer than the
// benchmark (every write a Raft round and an fsync), and what is measured
// is the writes and propagation after. The server on etcd then starts on
// the copy and reads it whole, as a node started on a migrated etcd does.
// What the server makes lives as long as parent.
func newScaleWorld(parent *testing.B, backend string, n int) *world {
	b := parent
	if backend == backendEmbedded {
		w := newWorld(b, apptest.Options{Quotas: scaleQuotas})
		start := time.Now()
		populate(b, w, n)
		if n > 0 {
			b.Logf("populated %d services with %d targets in %v", n, n*10, time.Since(start))
		}
		return w
	}
	cluster := etcdtest.Start(b)
	// With etcd the root credentials and the CA are given, shared by every
	// node (docs/etcd.md); the embedded server that populates uses the
	// same, so that its accounts and keys are those of the etcd node.
	caDir := b.TempDir()
	if _, _, _, err := ca.Load(caDir, "", ""); err != nil {
		b.Fatal(err)
	}
	o := apptest.Options{Quotas: scaleQuotas,
		Env:        map[string]string{"TRELLIS_ROOT_ACCESS_KEY_ID": "AKIASCALEBENCHROOT01", "TRELLIS_ROOT_SECRET_ACCESS_KEY": "scale-bench-secret"},
		CACertFile: filepath.Join(caDir, ca.CertFile), CAKeyFile: filepath.Join(caDir, ca.KeyFile)}
	w0 := newWorld(b, o)
	start := time.Now()
	populate(b, w0, n)
	populated := time.Since(start)
	if err := w0.s.App.Close(); err != nil {
		b.Fatal(err)
	}
	start = time.Now()
	keys := copyIntoEtcd(b, filepath.Join(w0.s.DataDir, "trellis.db"), etcd.Config{Endpoints: cluster.Endpoints(), Prefix: "/trellis/"})
	b.Logf("populated %d services with %d targets in %v on an embedded store, copied its %d keys into etcd in %v",
		n, n*10, populated, keys, time.Since(start))
	o.Store, o.Etcd, o.NodeName = app.StoreEtcd, etcd.Config{Endpoints: cluster.Endpoints(), Prefix: "/trellis/"}, "bench-node"
	s := apptest.StartWith(b, o)
	c := vpclattice.New(vpclattice.Options{Region: s.Region, BaseEndpoint: aws.String(s.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(s.AccessKeyID, s.SecretAccessKey, ""), RetryMaxAttempts: 1})
	// The network and the service newWorld made are in the copy.
	return &world{t: b, s: s, c: c, sn: w0.sn, svc: w0.svc}
}

// copyIntoEtcd copies the embedded store at path into etcd and returns how
// many keys it copied.
func copyIntoEtcd(b *testing.B, path string, cfg etcd.Config) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	src, err := embedded.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	dst, err := etcd.Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer dst.Close()
	n, err := store.Copy(ctx, dst, src, false)
	if err != nil {
		b.Fatalf("copy into etcd: %v", err)
	}
	return n
}
