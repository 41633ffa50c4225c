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

	"github.com/trellis-net/trellis/internal/api"
	"github.com/trellis-net/trellis/internal/ca"
	"github.com/trellis-net/trellis/internal/canary"
	"github.com/trellis-net/trellis/internal/cluster"
	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
	"github.com/trellis-net/trellis/internal/dataplane/auth"
	"github.com/trellis-net/trellis/internal/dataplane/dns"
	"github.com/trellis-net/trellis/internal/dataplane/health"
	"github.com/trellis-net/trellis/internal/dataplane/ingress"
	"github.com/trellis-net/trellis/internal/dataplane/lambda"
	"github.com/trellis-net/trellis/internal/dataplane/passthrough"
	"github.com/trellis-net/trellis/internal/dataplane/proxy"
	"github.com/trellis-net/trellis/internal/dataplane/tlsterm"
	"github.com/trellis-net/trellis/internal/dataplane/traffic"
	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/dataplane/vpcnet"
	"github.com/trellis-net/trellis/internal/functions"
	"github.com/trellis-net/trellis/internal/gcfloor"
	"github.com/trellis-net/trellis/internal/identity"
	"github.com/trellis-net/trellis/internal/metrics"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
	"github.com/trellis-net/trellis/internal/sigv4"
	"github.com/trellis-net/trellis/internal/snapshot"
	"github.com/trellis-net/trellis/internal/snapshot/watch"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/embedded"
	"github.com/trellis-net/trellis/internal/store/etcd"
	"github.com/trellis-net/trellis/internal/tracing"
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
	// RequestTimeout is how long the data plane waits for a target's
	// response headers before answering 504 (default 60s).
	RequestTimeout time.Duration
	// DomainVerificationResolver (serve --domain-verification-resolver
	// IP:PORT) is the DNS server domain verifications look their TXT
	// record up at; empty: none (docs/resources.md).
	DomainVerificationResolver string
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
	Getenv        func(string) string
	Logger        *slog.Logger
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

// start builds the parts and starts them as runners, in the order they
// depend on each other: the store; the snapshot compiled from it; the
// namespaces of netns VPCs (before anything opens sockets in them); the
// health checker, the access logs and the ingress, which follow the
// namespaces; DNS; and last the API, so that nothing is acknowledged before
// the data plane that serves it is up. Close stops them in reverse.
func (a *App) start(ctx context.Context) error {
	cfg := a.cfg
	rs := &a.runners
	st, cache, offline, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	a.store = st
	_ = rs.start(runner{name: "store", close: func(context.Context) error { return st.Close() }})
	if cache != nil {
		// Closed before the store, after the watcher that writes it.
		_ = rs.start(runner{name: "snapshot-cache", close: func(context.Context) error { return cache.Close() }})
	}
	// What the nodes share besides the store (nodes.go): closed before
	// the store and its local copy, after every part that publishes or
	// leads. A node started from its local copy joins in the background.
	if err := a.openCluster(ctx, st, offline != nil); err != nil {
		return err
	}
	_ = rs.start(runner{name: "cluster", close: func(context.Context) error { return a.cluster.Close() }})
	var token string
	if offline != nil {
		token = offline.token
	} else {
		if token, err = dnsToken(ctx, st); err != nil {
			return err
		}
		if cache != nil {
			if err := cache.SetMeta(cacheDNSToken, token); err != nil {
				return fmt.Errorf("local snapshot copy: %w", err)
			}
		}
	}
	if r := cfg.DomainVerificationResolver; r != "" {
		if _, err := netip.ParseAddrPort(r); err != nil {
			return fmt.Errorf("--domain-verification-resolver %q: want IP:PORT", r)
		}
	}
	svc := service.New(st, service.Config{Region: cfg.Region, DNSToken: token, Quotas: cfg.Quotas, DrainTime: cfg.DrainTime,
		IngressPrefix: cfg.IngressPrefix, AdminAccount: a.root.Account, Netns: netnsSupported, CA: a.ca,
		DomainVerificationResolver: cfg.DomainVerificationResolver})
	a.svc = svc
	if offline == nil {
		if err := a.storeStartWork(ctx, svc); err != nil {
			return err
		}
	}

	// The data plane: a snapshot compiled from the store, and the parts
	// that follow it.
	holder := &snapshot.Holder{}
	a.holder = holder
	// Metrics: one registry, injected into each part through its hook.
	var met *metrics.Metrics
	if cfg.MetricsAddr != "" {
		met = metrics.New()
		a.metrics = met
		met.WatchCluster(a.cluster, []string{cluster.ElectionCanaries, cluster.ElectionSweeper})
	}
	registry := &upstream.Registry{Outlier: cfg.Outlier}
	drain := cfg.DrainTime
	if drain == 0 {
		drain = time.Minute
	}
	root := a.root
	watcher := &watch.Watcher{Store: st, Holder: holder, Logger: cfg.Logger, Cache: cache, FromCache: offline != nil,
		Options: snapshot.Options{Region: cfg.Region, DrainTime: drain, Roots: []model.AccessKey{{ID: root.AccessKeyID,
			Secret: root.SecretAccessKey, PrincipalARN: root.PrincipalARN(), Account: root.Account, Status: "Active"}}, AdminAccount: root.Account,
			IngressPrefix: ingressPrefixOf(cfg), NodeIngressPrefix: cfg.NodeIngressPrefix}}
	// The namespaces of netns VPCs follow the snapshot first; the proxy,
	// the checker and DNS follow the namespaces (vpcnet.Runner), so that a
	// VPC's namespace exists before they open sockets in it.
	nets := &vpcnet.Runner{Holder: holder, Prefix: service.NetnsPrefix(token), Logger: cfg.Logger, CAPEM: a.ca.CertPEM}
	a.nets = nets
	if met != nil {
		watcher.OnPublish = met.Snapshot.Published
		met.WatchStore(watcher)
	}
	netsChanges, pruneChanges := watcher.Subscribe(), watcher.Subscribe()
	// Roles (docs/etcd.md): the snapshot is compiled on every node (the
	// API's DNS lookups and policy simulation read it, the sweeper finds
	// draining groups in it); the data plane's parts start only with the
	// dataplane role, the checker only with the health role.
	roles := cfg.Roles
	var fnChanges <-chan struct{}
	if !cfg.DisableFunctionHost && roles.Dataplane {
		fnChanges = watcher.Subscribe()
	}
	var feedChanges <-chan struct{}
	if roles.Dataplane && !roles.Health && a.view != nil {
		feedChanges = watcher.Subscribe()
	}
	proxyChanges, healthChanges := nets.Subscribe(), nets.Subscribe()
	var dnsChanges <-chan struct{}
	if cfg.DNS.Port != 0 {
		dnsChanges = nets.Subscribe()
	}
	if err := rs.start(runner{name: watcher.Name(), start: func(ctx context.Context, _ *loops) error {
		if err := watcher.Start(ctx); err != nil {
			return fmt.Errorf("compile the first snapshot: %w", err)
		}
		return nil
	}}); err != nil {
		return err
	}
	// A health node probes targets from their VPC's network, as the proxy
	// dials them: it needs the namespaces too.
	if !roles.Dataplane && !roles.Health {
		// Nothing follows the namespaces.
	} else if err := rs.start(runner{name: "vpc-networks", start: func(ctx context.Context, g *loops) error {
		if err := nets.Sync(); err != nil {
			cfg.Logger.Warn("data plane: some VPC namespaces failed; will retry", "err", err)
		}
		g.Go(func() { nets.Run(ctx, netsChanges) })
		return nil
	}, close: func(context.Context) error {
		// The namespaces stay, with what runs inside, for the next start.
		nets.Close()
		return nil
	}}); err != nil {
		return err
	}
	hcfg := health.Config{Holder: holder, Registry: registry, Logger: cfg.Logger, IntervalScale: cfg.HealthCheckSecond,
		MaxConcurrentChecks: cfg.HealthCheckConcurrency, Net: nets.Lookup}
	if met != nil {
		hcfg.OnCheck = met.Health.ObserveCheck
	}
	if pub, ok := a.cluster.(*cluster.Etcd); ok && roles.Health {
		// Publishing: the checker says what changed, the cluster reads it
		// back (healthSource) at its next flush.
		hcfg.OnTransition, hcfg.OnSync = pub.MarkTarget, pub.MarkGroups
	}
	checker := health.New(hcfg)
	a.checker = checker
	// ListTargets: this node's checker alone, or on etcd every health
	// node's statuses combined (nodes.go).
	var targetHealth service.TargetHealth = checker
	if a.view != nil {
		targetHealth = a.view
	}
	if met != nil {
		met.WatchTargets(holder.Load, targetHealth.TargetStatus)
	}
	svc.SetTargetHealth(targetHealth)
	if feedChanges != nil {
		// A data plane without a checker of its own routes by the
		// cluster's combined statuses.
		if err := rs.start(runner{name: "health-feed", start: func(ctx context.Context, g *loops) error {
			g.Go(func() { feedHealth(ctx, holder, registry, a.view, a.feed, feedChanges) })
			return nil
		}}); err != nil {
			return err
		}
	}
	if !roles.Health {
		// No checker runs.
	} else if err := rs.start(runner{name: "health-checker", start: func(ctx context.Context, g *loops) error {
		checker.Sync()
		g.Go(func() { checker.Run(ctx, healthChanges) })
		return nil
	}, close: func(context.Context) error { checker.Close(); return nil }}); err != nil {
		return err
	}
	if cfg.AccessLogDir == "" {
		cfg.AccessLogDir = filepath.Join(cfg.DataDir, "accesslogs")
	}
	alog, err := accesslog.New(accesslog.Config{Dir: cfg.AccessLogDir, Region: cfg.Region, Logger: cfg.Logger,
		S3ObjectInterval: cfg.AccessLogS3Interval, Taps: cfg.AccessLogTaps, Node: cfg.NodeName})
	if err != nil {
		return fmt.Errorf("access logs: %w", err)
	}
	a.alog = alog
	if met != nil {
		met.WatchAccessLog(alog)
	}
	// Closed after the ingress: the last requests' records are written too.
	_ = rs.start(runner{name: "access-logs", close: func(context.Context) error { return alog.Close() }})
	picker := &upstream.Picker{Registry: registry}
	authz := auth.New(holder, cfg.Region, nil)
	// LAMBDA target groups: hosted functions here (functionInvoker), others
	// through the Invoke API at --lambda-endpoint, if one is set.
	var invoker functionInvoker
	if !cfg.DisableFunctionHost && roles.Dataplane {
		fcfg := functions.Config{Source: svc, Dir: filepath.Join(cfg.DataDir, "functions"),
			Region: cfg.Region, DefaultAccount: root.Account, IdleTimeout: cfg.FunctionIdleTimeout, Logger: cfg.Logger}
		if met != nil {
			fcfg.OnEvent = met.Functions.ObserveEvent
		}
		a.fnHost = functions.New(fcfg)
		invoker.host = a.fnHost
	}
	if cfg.LambdaEndpoint != "" {
		remote, err := lambda.NewRemote(ctx, lambda.RemoteConfig{Endpoint: cfg.LambdaEndpoint, Region: cfg.LambdaRegion})
		if err != nil {
			return err
		}
		invoker.remote = remote
		_ = rs.start(runner{name: "lambda-invoker", close: func(context.Context) error { remote.Close(); return nil }})
		cfg.Logger.Info("lambda: invoking functions not hosted here through the Invoke API", "endpoint", cfg.LambdaEndpoint, "region", cfg.LambdaRegion)
	}
	// Hosted functions (docs/functions.md): started before the ingress and
	// the API that invoke them, closed after both (in-flight requests to a
	// LAMBDA group finish), with every worker process.
	if host := a.fnHost; host != nil {
		if err := rs.start(runner{name: "function-host", start: func(ctx context.Context, g *loops) error {
			g.Go(func() { host.Run(ctx, fnChanges) })
			return nil
		}, close: host.Close}); err != nil {
			return err
		}
	}

	pcfg := proxy.Config{Holder: holder, Registry: registry, Auth: authz,
		Picker: picker, RequestTimeout: cfg.RequestTimeout, Logger: cfg.Logger,
		AccessLog: alog, Net: nets.Lookup, Lambda: invoker}
	var observers proxy.Observers
	if met != nil {
		observers = append(observers, met.DataPlane)
		pcfg.TargetConns = met.Conns
	}
	if cfg.TrafficWindow >= 0 && roles.Dataplane {
		if cfg.TrafficWindow == 0 {
			cfg.TrafficWindow = DefaultTrafficWindow
		}
		a.traffic = traffic.New(traffic.Config{Window: cfg.TrafficWindow})
		observers = append(observers, a.traffic)
		if met != nil {
			met.WatchTraffic(a.traffic)
		}
	}
	switch len(observers) {
	case 0: // nil: the proxy spends nothing on observations
	case 1:
		pcfg.Observer = observers[0]
	default:
		pcfg.Observer = observers
	}
	if cfg.OTLPEndpoint != "" {
		tr, err := tracing.New(tracing.Config{Endpoint: cfg.OTLPEndpoint, Sample: cfg.TraceSample, Logger: cfg.Logger})
		if err != nil {
			return err
		}
		// Closed after the proxy (runners close in reverse): the spans of
		// the last requests are flushed.
		_ = rs.start(runner{name: "tracing", close: tr.Shutdown})
		pcfg.Tracer = tr
	}
	px := proxy.New(pcfg)
	a.proxy = px
	// HTTPS listeners: certificates by SNI from the current snapshot (the
	// installation CA's for generated names, ACM's for custom domains);
	// TLS_PASSTHROUGH listeners: relayed by SNI without terminating.
	term := tlsterm.New(tlsterm.Config{Holder: holder, CA: a.ca, Logger: cfg.Logger})
	pass := passthrough.New(passthrough.Config{Holder: holder, Picker: picker, Net: nets.Lookup, AccessLog: alog, Logger: cfg.Logger, Auth: authz})
	icfg := ingress.Config{Holder: holder, Handler: px.Handler, Rejected: px.Rejected, AfterSync: px.Forget,
		Net: nets.Lookup, Logger: cfg.Logger, StdServer: cfg.StdHTTPServer, StdH2: cfg.StdH2Server, TLS: term.Config, Passthrough: pass}
	if met != nil {
		icfg.ConnObserver = met.Conns
	}
	in := ingress.New(icfg)
	a.ingress = in
	if met != nil {
		met.WatchIngress(in)
	}
	if !roles.Dataplane {
		// No ingress: the proxy is built but serves nothing.
	} else if err := rs.start(runner{name: "ingress", start: func(ctx context.Context, g *loops) error {
		if err := in.Sync(ctx); err != nil {
			cfg.Logger.Warn("data plane: some ingress listeners failed", "err", err)
		}
		g.Go(func() { _ = in.Run(ctx, proxyChanges) })
		return nil
	}, close: func(ctx context.Context) error {
		err := in.Close(ctx)
		px.CloseIdle()
		return err
	}}); err != nil {
		return err
	}
	if err := rs.start(runner{name: "upkeep", start: func(ctx context.Context, g *loops) error {
		g.Go(func() { gcfloor.Run(ctx, cfg.GCFloor, time.Second, cfg.Logger) })
		g.Go(func() { pruneRegistry(ctx, holder, registry, pruneChanges) })
		return nil
	}}); err != nil {
		return err
	}
	if cfg.DNS.Port != 0 && roles.Dataplane {
		a.dns = newDNS(cfg, holder, dnsChanges, nets, met)
		if err := rs.start(runner{name: a.dns.Name(), start: func(ctx context.Context, _ *loops) error {
			if err := a.dns.Start(ctx); err != nil {
				return err
			}
			cfg.Logger.Info("dns: VPC resolvers", "port", cfg.DNS.Port, "upstreams", cfg.DNS.Upstreams)
			return nil
		}, close: a.dns.Close}); err != nil {
			return err
		}
	}

	// Root credentials first, then the access keys in the store.
	verifier := &sigv4.Verifier{Service: "vpc-lattice", Region: cfg.Region, Keys: identity.NewChain(identity.NewKeys(root), svc)}
	handler := api.New(svc, verifier, cfg.Logger)
	if met != nil {
		handler.SetCallObserver(met.API.ObserveCall)
		// Before the API: what it acknowledges can be watched.
		if err := rs.start(a.metricsRunner(met)); err != nil {
			return err
		}
	}
	handler.SetDNS(dnsAddress(a.dns), dnsLookup(holder, a.dns))
	handler.SetCertificateAuthority(a.ca.CertPEM)
	if a.traffic != nil {
		handler.SetTraffic(trafficSource{a.traffic})
	} else {
		handler.SetTraffic(nil)
	}
	// `trellis logs tail`: the access logger's live taps (accesslog_tap.go).
	handler.SetAccessLogTap(accessLogTap{alog.Taps()}, 0)
	if a.fnHost != nil {
		handler.SetFunctionHost(a.fnHost)
	}
	// `trellis auth simulate`: the data plane's own evaluation, on the live
	// snapshot, for VPCs and services of the caller's account (or any, for
	// the administrator: the default account's root, not its users).
	handler.HandleNative("POST "+api.NativePrefix+"auth/simulate", auth.SimulateHandler(holder,
		func(ctx context.Context, owner string) bool {
			c, ok := service.CallerFrom(ctx)
			return ok && (c.Account == owner || svc.IsAdmin(c))
		}))
	if !roles.API {
		return nil
	}
	// Canary releases: judged by one API node, the elected one (on the
	// embedded store, this one at once); they change weights through the
	// service, as the API does, so the snapshot follows them like any
	// UpdateRule. Any API node starts and aborts them (the store orders
	// those writes); the leader resumes the running ones when elected.
	stats := cfg.CanaryStats
	if stats == nil && a.traffic != nil {
		stats = a.traffic // never a nil *Aggregator in the interface
	}
	canaries := canary.New(canary.Config{Store: st, Routes: svc, Stats: stats, Logger: cfg.Logger, Tick: cfg.CanaryTick})
	handler.SetCanaries(canaries)
	if a.view != nil {
		handler.SetTargetHealthReports(targetHealthRows(a.view))
	}
	// Canaries and the sweeper run under their elections (nodes.go). A
	// node started from its local copy is on etcd: it is elected only
	// once etcd answers, and a new leader resumes the running canaries.
	if err := rs.start(a.electedRunner(canaries, svc, holder)); err != nil {
		return err
	}
	if offline != nil {
		// Started from the local copy: the API answers the retryable
		// error until the store is back and the start work it skipped is
		// done (docs/etcd.md, "Static stability").
		ready := make(chan struct{})
		wait := cfg.Etcd.CommitTimeout
		if wait <= 0 {
			wait = etcd.DefaultCommitTimeout
		}
		handler.SetGate(func(ctx context.Context) error {
			select {
			case <-ready:
				return nil
			default:
			}
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-ready:
				return nil
			case <-t.C:
				return fmt.Errorf("%w: this node started from its local snapshot copy and waits for the store", store.ErrUnavailable)
			case <-ctx.Done():
				return ctx.Err()
			}
		})
		if err := rs.start(runner{name: "store-return", start: func(ctx context.Context, g *loops) error {
			g.Go(func() {
				if a.storeReturn(ctx, st, svc, token, func() error { return nil }) {
					close(ready)
				}
			})
			return nil
		}}); err != nil {
			return err
		}
	}
	a.apiSrv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	// Shutdown waits for handlers: open log streams end first (with an
	// "end" line) rather than holding it up.
	a.apiSrv.RegisterOnShutdown(alog.Taps().Close)
	return rs.start(runner{name: "api", start: func(ctx context.Context, g *loops) error {
		ln, err := net.Listen("tcp", cfg.APIAddr)
		if err != nil {
			return fmt.Errorf("API listener: %w", err)
		}
		a.apiLn = ln
		g.Go(func() { a.serveCh <- a.apiSrv.Serve(ln) })
		return nil
	}, close: a.apiSrv.Shutdown})
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
