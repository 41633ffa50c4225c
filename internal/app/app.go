// Package app is the only place that wires Trellis together: it opens the
// store, builds the service and the API, and runs the listeners. Every
// long-running part is started here and stopped here.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/trellis-net/trellis/internal/ca"
	"github.com/trellis-net/trellis/internal/canary"
	"github.com/trellis-net/trellis/internal/cluster"
	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
	"github.com/trellis-net/trellis/internal/dataplane/dns"
	"github.com/trellis-net/trellis/internal/dataplane/health"
	"github.com/trellis-net/trellis/internal/dataplane/ingress"
	"github.com/trellis-net/trellis/internal/dataplane/lambda"
	"github.com/trellis-net/trellis/internal/dataplane/proxy"
	"github.com/trellis-net/trellis/internal/dataplane/traffic"
	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/dataplane/vpcnet"
	"github.com/trellis-net/trellis/internal/functions"
	"github.com/trellis-net/trellis/internal/identity"
	"github.com/trellis-net/trellis/internal/metrics"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
	"github.com/trellis-net/trellis/internal/snapshot"
	"github.com/trellis-net/trellis/internal/snapshot/watch"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/embedded"
	"github.com/trellis-net/trellis/internal/store/etcd"
)

// Config is the static configuration of `trellis serve`.
type Config struct {
	DataDir string
	APIAddr string
	// Store is the store backend: "" or StoreEmbedded (bbolt in DataDir)
	// or StoreEtcd (an etcd cluster, Etcd, shared by several nodes; see
	// docs/etcd.md).
	Store string
	Etcd  etcd.Config
	// NodeName names this node among those sharing a store (serve
	// --node-name, default the hostname): its registration, its published
	// target statuses and its candidacies in etcd (internal/cluster), its
	// S3 access-log object names.
	NodeName string
	// Roles are what this node runs (serve --roles, docs/etcd.md "Roles");
	// the zero value is every role, the only choice with the embedded
	// store.
	Roles cluster.Roles
	// ClusterTTL is the lease TTL of a node on etcd: how long a dead
	// node's statuses and elections outlive it (default
	// cluster.DefaultTTL). HealthFlushInterval is how often a health node
	// publishes its status changes at most (default
	// cluster.DefaultFlushInterval). Tests shorten both.
	ClusterTTL          time.Duration
	HealthFlushInterval time.Duration
	// SweepInterval is how often the elected sweeper deletes targets whose
	// drain time has passed (default DefaultSweepInterval).
	SweepInterval time.Duration
	// Version is this build's version, in the node's registration.
	Version string
	// CACertFile and CAKeyFile give the installation CA (both or
	// neither); without them it is generated into DataDir on first start
	// (internal/ca, docs/certificates.md).
	CACertFile, CAKeyFile string

	Region string
	Quotas model.Quotas
	// DrainTime is how long deregistered targets stay DRAINING.
	DrainTime time.Duration
	// ShutdownTimeout bounds the graceful stop.
	ShutdownTimeout time.Duration
	// IngressPrefix is where host-mode VPCs get ingress addresses
	// (default 127.171.0.0/16).
	IngressPrefix netip.Prefix
	// NodeIngressPrefix (serve --node-ingress-prefix), when valid, is where
	// this node's data plane serves host-mode VPCs: each at the address
	// with the same offset in it as the VPC's stored address has in
	// IngressPrefix (snapshot.NodeIngress), so that several data-plane
	// nodes can share a machine. The API keeps reporting the stored
	// address. Unset: the stored address (docs/deployment.md).
	NodeIngressPrefix netip.Prefix
	// ResourcePrefix (serve --resource-cidr) is where this node's data
	// plane gives host-mode VPCs the addresses of the resource
	// configurations they reach, one per (VPC, configuration). Unset:
	// snapshot.DefaultResourcePrefix (127.200.0.0/13), or with
	// NodeIngressPrefix none (each node sharing a machine needs its own;
	// docs/resources.md). It must not overlap IngressPrefix or
	// NodeIngressPrefix.
	ResourcePrefix netip.Prefix
	// RequestTimeout is how long the data plane waits for a target's
	// response headers before answering 504 (default 60s).
	RequestTimeout time.Duration
	// DomainVerificationResolver (serve --domain-verification-resolver
	// IP:PORT) is the DNS server domain verifications look their TXT
	// record up at; empty: none (docs/resources.md).
	DomainVerificationResolver string
	// DomainVerificationInterval is how often the elected API node checks
	// every PENDING domain verification: through the resolver, and for
	// the timeout (default DefaultDomainVerificationInterval).
	DomainVerificationInterval time.Duration
	// AccessLogDir is where access logs of subscribed services and
	// networks are written (default DATA_DIR/accesslogs).
	AccessLogDir string
	// AccessLogS3Interval is how long an S3 access log object collects
	// records before it is sealed (default 1 minute).
	AccessLogS3Interval time.Duration
	// AccessLogTaps bounds the live streams of `trellis logs tail`
	// (zero fields: accesslog's defaults).
	AccessLogTaps accesslog.TapLimits
	// StdHTTPServer serves the data plane's sockets with net/http's server
	// instead of Trellis's own HTTP/1.x server.
	StdHTTPServer bool
	// StdH2Server serves HTTP/2 on the data plane's sockets (h2c and h2
	// over TLS) with net/http's HTTP/2 server instead of Trellis's own
	// (internal/dataplane/h2); for comparisons.
	StdH2Server bool
	// GCFloor lets the heap grow by at least this many bytes between
	// garbage collections (internal/gcfloor); 0 leaves Go's pacing alone.
	// A process setting: only for the one App of a process.
	GCFloor uint64
	// HealthCheckSecond is the length of one configured second of health
	// check intervals and timeouts (default time.Second; tests shorten it).
	HealthCheckSecond time.Duration
	// HealthCheckConcurrency bounds the active health checks in flight
	// (default health.DefaultMaxConcurrentChecks).
	HealthCheckConcurrency int
	// Outlier configures the data plane's outlier ejection and stall
	// detection (docs/architecture.md); nil means the defaults
	// (DefaultOutlierDetection).
	Outlier *upstream.OutlierDetection
	// LambdaEndpoint is the base URL of the Lambda Invoke API (AWS,
	// LocalStack) through which the data plane invokes the functions of
	// LAMBDA target groups (docs/lambda.md), signed with the credentials of
	// the standard AWS chain; "" configures none.
	LambdaEndpoint string
	// LambdaRegion signs the invocations (default Region).
	LambdaRegion string
	// DNS configures the VPCs' DNS (dns.go); the zero value is off.
	DNS DNSConfig
	// DisableFunctionHost keeps this Trellis from running hosted
	// functions (--function-host=false): they can still be declared, and
	// Invoke answers ServiceException.
	DisableFunctionHost bool
	// FunctionIdleTimeout stops a function's worker idle that long
	// (default functions.DefaultIdleTimeout).
	FunctionIdleTimeout time.Duration
	// MetricsAddr is where /metrics serves the Prometheus series
	// (internal/metrics, docs/metrics.md); "" serves none and collects
	// none (the data plane's observer is off and costs nothing).
	MetricsAddr string
	// OTLPEndpoint is the OTLP/HTTP URL the data plane's request spans are
	// exported to (internal/tracing, docs/tracing.md); "" traces nothing
	// (the proxy's Tracer is nil and costs nothing). TraceSample is the
	// ratio of traces recorded, 0..1 (the CLI's default is 1).
	OTLPEndpoint string
	TraceSample  float64
	// CanaryStats are the live per-minute aggregates canaries are judged
	// on (internal/canary); nil means the data plane's own traffic
	// aggregates (TrafficWindow), and with those off new canaries are
	// refused and running ones held unjudged. CanaryTick is how often
	// running canaries are evaluated (default canary.DefaultTick; tests
	// shorten it).
	CanaryStats canary.Stats
	CanaryTick  time.Duration
	// TrafficWindow is how long the data plane keeps its per-minute
	// traffic aggregates (internal/dataplane/traffic, docs/traffic.md):
	// 0 means DefaultTrafficWindow, a negative value keeps none (serve
	// --traffic-window=0).
	TrafficWindow time.Duration
	// Console serves the embedded web console (internal/console,
	// docs/console.md) under /console/ on the API address; serve
	// --console, on by default there.
	Console bool
	Getenv  func(string) string
	Logger  *slog.Logger
}

// Store backends of Config.Store.
const (
	StoreEmbedded = "embedded"
	StoreEtcd     = "etcd"
)

// DefaultHealthCheckConcurrency is the default of
// Config.HealthCheckConcurrency.
const DefaultHealthCheckConcurrency = health.DefaultMaxConcurrentChecks

// DefaultOutlierDetection returns a copy of the data plane's default
// outlier detection settings, for flags to change.
func DefaultOutlierDetection() *upstream.OutlierDetection {
	d := upstream.DefaultOutlierDetection
	return &d
}

// App is a running Trellis.
type App struct {
	cfg     Config
	log     *slog.Logger
	store   store.Store
	svc     *service.Service
	root    identity.Root
	apiLn   net.Listener
	apiSrv  *http.Server
	serveCh chan error

	runners runners // everything that runs, in start order (runner.go)
	holder  *snapshot.Holder
	proxy   *proxy.Proxy
	ingress *ingress.Ingress
	checker *health.Checker
	alog    *accesslog.Logger
	dns     *dns.Server // nil when DNS is off
	nets    *vpcnet.Runner
	ca      *ca.CA
	fnHost  *functions.Host     // nil when the function host is off
	metrics *metrics.Metrics    // nil when MetricsAddr is ""
	traffic *traffic.Aggregator // nil when TrafficWindow < 0
	metLn   net.Listener
	cluster cluster.Cluster
	// view is the combined target health of the nodes on etcd (nil on
	// the embedded store); feed queues the targets whose combined status
	// changed, for a data plane without a checker (nodes.go).
	view *cluster.View
	feed *feedQueue
}

// Start opens the data directory and starts serving. The returned App runs
// until Close.
func Start(ctx context.Context, cfg Config) (*App, error) {
	if cfg.Getenv == nil {
		cfg.Getenv = os.Getenv
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Region == "" {
		cfg.Region = cfg.Getenv("TRELLIS_REGION")
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 15 * time.Second
	}
	if cfg.Outlier == nil {
		cfg.Outlier = DefaultOutlierDetection()
	}
	if err := cfg.Outlier.Validate(); err != nil {
		return nil, fmt.Errorf("outlier detection: %w", err)
	}
	ingressPrefix := cfg.IngressPrefix
	if !ingressPrefix.IsValid() {
		ingressPrefix = service.DefaultIngressPrefix
	}
	if err := checkNodeIngressPrefix(cfg.NodeIngressPrefix, ingressPrefix); err != nil {
		return nil, err
	}
	if err := checkResourcePrefix(cfg.ResourcePrefix, ingressPrefix, cfg.NodeIngressPrefix); err != nil {
		return nil, err
	}
	if err := cfg.DNS.validate(ingressPrefix); err != nil {
		return nil, err
	}
	if cfg.NodeIngressPrefix.IsValid() {
		if err := cfg.DNS.validate(cfg.NodeIngressPrefix); err != nil {
			return nil, err
		}
	}
	if cfg.LambdaEndpoint != "" {
		if _, err := lambda.ParseEndpoint(cfg.LambdaEndpoint); err != nil {
			return nil, fmt.Errorf("lambda endpoint %w", err)
		}
	}
	if cfg.LambdaRegion == "" {
		cfg.LambdaRegion = cfg.Region
	}
	if cfg.Roles == (cluster.Roles{}) {
		cfg.Roles = cluster.AllRoles
	}
	if cfg.NodeName == "" {
		cfg.NodeName, _ = os.Hostname()
	}
	switch cfg.Store {
	case "", StoreEmbedded:
		cfg.Store = StoreEmbedded
		// One node does everything: a node without the API could not be
		// configured, one without health checks would never learn any.
		if !cfg.Roles.All() {
			return nil, fmt.Errorf("--roles %s: with the embedded store one node runs every role (api,dataplane,health); roles are for several nodes on --store etcd", cfg.Roles)
		}
	case StoreEtcd:
		// Nodes sharing one etcd must share what signs and what
		// authenticates: a node's generated root credentials or CA would
		// be its own (docs/etcd.md).
		if cfg.Getenv("TRELLIS_ROOT_ACCESS_KEY_ID") == "" || cfg.Getenv("TRELLIS_ROOT_SECRET_ACCESS_KEY") == "" {
			return nil, errors.New("--store etcd: set TRELLIS_ROOT_ACCESS_KEY_ID and TRELLIS_ROOT_SECRET_ACCESS_KEY, the same on every node (none are generated)")
		}
		if cfg.CACertFile == "" || cfg.CAKeyFile == "" {
			return nil, errors.New("--store etcd: give the installation CA with --ca-cert and --ca-key, the same on every node (none is generated)")
		}
	default:
		return nil, fmt.Errorf("store %q: want embedded or etcd", cfg.Store)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	root, src, credPath, err := identity.LoadRoot(cfg.DataDir, cfg.Getenv)
	if err != nil {
		return nil, err
	}
	switch src {
	case identity.Generated:
		cfg.Logger.Info("generated root credentials of the default account", "file", credPath, "account", root.Account, "accessKeyId", root.AccessKeyID)
	case identity.FromFile:
		cfg.Logger.Info("root credentials of the default account", "file", credPath, "account", root.Account, "accessKeyId", root.AccessKeyID)
	default:
		cfg.Logger.Info("root credentials from the environment", "account", root.Account, "accessKeyId", root.AccessKeyID)
	}
	authority, caSrc, caPath, err := ca.Load(cfg.DataDir, cfg.CACertFile, cfg.CAKeyFile)
	if err != nil {
		return nil, err
	}
	switch caSrc {
	case ca.Generated:
		cfg.Logger.Info("generated the installation CA", "file", caPath, "subject", authority.Cert.Subject.String(), "notAfter", authority.Cert.NotAfter)
	default:
		cfg.Logger.Info("installation CA", "file", caPath, "subject", authority.Cert.Subject.String(), "notAfter", authority.Cert.NotAfter)
	}
	a := &App{cfg: cfg, log: cfg.Logger, root: root, ca: authority, serveCh: make(chan error, 1)}
	if err := a.start(ctx); err != nil {
		cctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		if cerr := a.runners.closeAll(cctx); cerr != nil {
			cfg.Logger.Warn("closing after a failed start", "err", cerr)
		}
		return nil, err
	}
	if cfg.NodeIngressPrefix.IsValid() && cfg.Roles.Dataplane {
		cfg.Logger.Info("data plane: host-mode VPCs served at their offset in the node's ingress range",
			"nodeIngressPrefix", cfg.NodeIngressPrefix.String(), "ingressCidr", ingressPrefix.String())
	}
	if a.apiLn != nil {
		cfg.Logger.Info("control-plane API listening", "addr", a.apiLn.Addr().String(), "region", cfg.Region)
	}
	return a, nil
}

// pruneRegistry drops the live state of targets that left the snapshot, so
// that the registry does not grow with every target ever registered. The
// watcher compiles incrementally: a target group that did not change is the
// same object in the new snapshot, so only the changed ones are compared
// (sweeping the whole registry after every write took a third of the CPU
// at 100,000 targets, issue 15). A full sweep, at the first snapshot and
// then at most once a minute, also drops state that a request still on an
// older snapshot made for a target already gone.
func pruneRegistry(ctx context.Context, holder *snapshot.Holder, reg *upstream.Registry, changes <-chan struct{}) {
	var prev *snapshot.Snapshot
	var swept time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
		}
		snap := holder.Load()
		// The groups that may differ from prev's: the snapshot says which
		// (however many the coalescing channel skipped); when it cannot
		// tell, every group is compared by pointer (issue 15: that scan of
		// 10,000 groups per snapshot was 9% of the CPU under writes).
		var ids []string
		ok := false
		if prev != nil {
			ids, ok = snap.TargetGroupsChangedSince(prev.Seq)
		}
		if prev == nil || time.Since(swept) >= time.Minute {
			keep := map[string]bool{}
			for _, tg := range snap.TargetGroups.All() {
				for _, t := range tg.Targets {
					keep[t.Key] = true
				}
				for _, t := range tg.Draining {
					keep[t.Key] = true
				}
			}
			reg.Retain(func(key string) bool { return keep[key] })
			prev, swept = snap, time.Now()
			continue
		}
		if !ok {
			ids = ids[:0]
			for id := range prev.TargetGroups.All() {
				ids = append(ids, id)
			}
		}
		var gone []string
		seen := make(map[string]bool, len(ids))
		for _, id := range ids {
			old := prev.TargetGroups.Get(id)
			if seen[id] || old == nil {
				continue // new groups have nothing to forget
			}
			seen[id] = true
			cur := snap.TargetGroups.Get(id)
			if cur == old {
				continue
			}
			keep := map[string]bool{}
			if cur != nil {
				for _, t := range cur.Targets {
					keep[t.Key] = true
				}
				for _, t := range cur.Draining {
					keep[t.Key] = true
				}
			}
			for _, list := range [][]*snapshot.Target{old.Targets, old.Draining} {
				for _, t := range list {
					if !keep[t.Key] {
						gone = append(gone, t.Key)
					}
				}
			}
		}
		reg.Forget(gone)
		prev = snap
	}
}

// storeStartWork is the start's work on the store besides the DNS token:
// done before the API answers, at start or (started from the local copy)
// when the store is back.
func (a *App) storeStartWork(ctx context.Context, svc *service.Service) error {
	// A data directory written by an older version gets the counters and
	// indexes that keep scans out of write transactions (once).
	if err := svc.Upgrade(ctx); err != nil {
		return err
	}
	// The default account exists implicitly; its record makes it listable.
	if err := svc.EnsureAccount(ctx, a.root.Account, "default"); err != nil {
		return fmt.Errorf("default account: %w", err)
	}
	return nil
}

// cacheDNSToken is the local copy's key of the DNS token: a node started
// from the copy names its services' DNS entries and namespaces as before.
const cacheDNSToken = "dns-token"

// offlineStart is a node's start from its local copy, its store away.
type offlineStart struct{ token string }

// openStore opens the store of cfg.Store. With etcd it also opens the
// node's local snapshot copy (watch.Cache, in DataDir); when etcd cannot
// be reached within its DialTimeout, a copy to start from makes offline
// non-nil (the store is still returned: it connects in the background),
// and no copy is an error naming the endpoints.
func openStore(ctx context.Context, cfg Config) (st store.Store, cache *watch.Cache, offline *offlineStart, err error) {
	if cfg.Store != StoreEtcd {
		st, err := embedded.Open(filepath.Join(cfg.DataDir, "trellis.db"))
		return st, nil, nil, err
	}
	es, err := etcd.Dial(cfg.Etcd)
	if err != nil {
		return nil, nil, nil, err
	}
	cache, err = watch.OpenCache(filepath.Join(cfg.DataDir, watch.CacheFile), "etcd "+es.Prefix(), cfg.Logger)
	if err != nil {
		es.Close()
		return nil, nil, nil, err
	}
	perr := es.Ping(ctx)
	if perr == nil {
		cfg.Logger.Info("store: etcd", "endpoints", es.Endpoints(), "prefix", es.Prefix(), "node", cfg.NodeName)
		return es, cache, nil, nil
	}
	rev, at, ok := cache.Info()
	token, tok := cache.Meta(cacheDNSToken)
	if !errors.Is(perr, store.ErrUnavailable) || !ok || !tok {
		cache.Close()
		es.Close()
		if errors.Is(perr, store.ErrUnavailable) {
			return nil, nil, nil, fmt.Errorf("%w; no local snapshot copy to start from in %s (a node starts from one only after it ran with the store)",
				perr, filepath.Join(cfg.DataDir, watch.CacheFile))
		}
		return nil, nil, nil, perr
	}
	cfg.Logger.Warn("store: etcd is unreachable; starting from the local snapshot copy, the API answers a retryable error until etcd is back",
		"endpoints", es.Endpoints(), "prefix", es.Prefix(), "node", cfg.NodeName, "revision", rev,
		"current_at", at.UTC().Format(time.RFC3339), "file", cache.Path(), "err", perr)
	return es, cache, &offlineStart{token: token}, nil
}

// storeReturn waits for the store of a node started from its local copy,
// then does the start work it skipped, once: it checks the DNS token,
// upgrades, makes the default account's record and resumes the canaries
// (resume). It retries every second (each try bounded by the store's own
// timeouts) and reports whether it finished before ctx ended.
func (a *App) storeReturn(ctx context.Context, st store.Store, svc *service.Service, token string, resume func() error) bool {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	tokenChecked := false
	for {
		err := func() error {
			if !tokenChecked {
				got, err := dnsToken(ctx, st)
				if err != nil {
					return err
				}
				if got != token {
					// The copy is of another installation's store (or the
					// store was wiped): the DNS names of the snapshot
					// would not be this store's.
					a.log.Error("store: the store's DNS token differs from the local copy's; restart this node", "copy", token, "store", got)
				}
				tokenChecked = true
			}
			if err := a.storeStartWork(ctx, svc); err != nil {
				return err
			}
			return resume()
		}()
		if err == nil {
			a.log.Info("store: reachable again; the start work is done and the API answers")
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if !errors.Is(err, store.ErrUnavailable) {
			a.log.Warn("store: the start work failed; will retry", "err", err)
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

// dnsToken returns the installation's DNS partition token, made once.
func dnsToken(ctx context.Context, st store.Store) (string, error) {
	var tok string
	_, err := st.Update(ctx, func(tx store.Tx) error {
		b, ok, err := tx.Get("meta/dns-token")
		if err != nil {
			return err
		}
		if ok {
			tok = string(b)
			return nil
		}
		var r [4]byte
		if _, err := rand.Read(r[:]); err != nil {
			return err
		}
		tok = hex.EncodeToString(r[:])[:7]
		return tx.Put("meta/dns-token", []byte(tok))
	})
	return tok, err
}

// APIAddr is the address the API listens on; "" on a node without the
// api role.
func (a *App) APIAddr() string {
	if a.apiLn == nil {
		return ""
	}
	return a.apiLn.Addr().String()
}

// Checker is the health checker, nil on a node without the health role.
func (a *App) Checker() *health.Checker {
	if !a.cfg.Roles.Health {
		return nil
	}
	return a.checker
}

// Cluster is what this node shares with the others besides the store.
func (a *App) Cluster() cluster.Cluster { return a.cluster }

// Ingress is the data plane's ingress, for tests that check what it
// listens on; it listens on nothing on a node without the dataplane role.
func (a *App) Ingress() *ingress.Ingress { return a.ingress }

// MetricsAddr is the address /metrics is served on; "" when metrics are
// off.
func (a *App) MetricsAddr() string {
	if a.metLn == nil {
		return ""
	}
	return a.metLn.Addr().String()
}

// Metrics is the App's metrics registry, nil when metrics are off.
func (a *App) Metrics() *metrics.Metrics { return a.metrics }

// Root returns the default account's root credentials.
func (a *App) Root() identity.Root { return a.root }

// CA is the installation CA.
func (a *App) CA() *ca.CA { return a.ca }

// Service is the control plane's domain layer, for in-process bulk loads
// (benchmarks populate thousands of services through it rather than through
// the API).
func (a *App) Service() *service.Service { return a.svc }

// Snapshot returns the data plane's current snapshot.
func (a *App) Snapshot() *snapshot.Snapshot { return a.holder.Load() }

// FunctionHost is the host of hosted functions, nil when it is off (for
// the data plane's LAMBDA target groups).
func (a *App) FunctionHost() *functions.Host { return a.fnHost }

// Region returns the region.
func (a *App) Region() string { return a.cfg.Region }

// Wait blocks until a listener fails or ctx ends.
func (a *App) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-a.serveCh:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// Close stops the runners in the reverse order of their start: the API
// stops accepting and lets in-flight calls finish, the ingress drains
// (bounded by ShutdownTimeout), the access logs take their last records,
// and the store closes last.
func (a *App) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	return a.runners.closeAll(ctx)
}
