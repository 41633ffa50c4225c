package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/trellis-net/trellis/internal/api"
	"github.com/trellis-net/trellis/internal/canary"
	"github.com/trellis-net/trellis/internal/cluster"
	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
	"github.com/trellis-net/trellis/internal/dataplane/auth"
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
	"github.com/trellis-net/trellis/internal/store/etcd"
	"github.com/trellis-net/trellis/internal/tracing"
)

// startParts is what start's steps hand on to the later ones, besides the
// App's own fields: made by one step, read by those after it.
type startParts struct {
	// From startStore: the node's local snapshot copy (nil on the
	// embedded store), offline non-nil when the node started from it, and
	// the DNS token.
	cache   *watch.Cache
	offline *offlineStart
	token   string

	// From startSnapshot: the targets' live state, shared by the checker,
	// the proxy and the pickers; and the changes each part follows. A
	// subscription is nil when the part that would read it is not started
	// on this node.
	registry      *upstream.Registry
	netsChanges   <-chan struct{} // the snapshot, for the VPC networks
	pruneChanges  <-chan struct{} // the snapshot, for the registry's upkeep
	fnChanges     <-chan struct{} // the snapshot, for the function host
	feedChanges   <-chan struct{} // the snapshot, for the health feed
	proxyChanges  <-chan struct{} // the VPC networks, for the ingress
	healthChanges <-chan struct{} // the VPC networks, for the checker
	dnsChanges    <-chan struct{} // the VPC networks, for DNS

	// From startDataPlane: shared by the proxy and the TLS passthrough.
	picker *upstream.Picker
	authz  *auth.Authorizer
}

// start builds the parts and starts them as runners, in the order they
// depend on each other: the store; the snapshot compiled from it; the
// namespaces of netns VPCs (before anything opens sockets in them); the
// health checker, the access logs and the ingress, which follow the
// namespaces; DNS; and last the API, so that nothing is acknowledged before
// the data plane that serves it is up. Close stops them in reverse.
//
// Each step is one method, in that order. Roles (docs/etcd.md): the store,
// the cluster and the snapshot are on every node (the API's DNS lookups and
// policy simulation read the snapshot, the sweeper finds draining groups in
// it); a role's parts are skipped here, or, where a step also builds what
// every node needs, in that step (startDataPlane).
func (a *App) start(ctx context.Context) error {
	p := &startParts{}
	if err := a.startStore(ctx, p); err != nil {
		return err
	}
	if err := a.startSnapshot(p); err != nil {
		return err
	}
	roles := a.cfg.Roles
	// A health node probes targets from their VPC's network, as the proxy
	// dials them: it needs the namespaces too. Otherwise nothing follows
	// the namespaces.
	if roles.Dataplane || roles.Health {
		if err := a.startNetworks(p); err != nil {
			return err
		}
	}
	a.buildHealth(p)
	if p.feedChanges != nil {
		// A data plane without a checker of its own routes by the
		// cluster's combined statuses.
		if err := a.startHealthFeed(p); err != nil {
			return err
		}
	}
	if roles.Health {
		if err := a.startChecker(p); err != nil {
			return err
		}
	}
	if err := a.startDataPlane(ctx, p); err != nil {
		return err
	}
	if met := a.metrics; met != nil {
		// Before the API: what it acknowledges can be watched.
		if err := a.runners.start(a.metricsRunner(met)); err != nil {
			return err
		}
	}
	handler := a.newAPIHandler()
	if !roles.API {
		return nil
	}
	return a.startAPI(p, handler)
}

// startStore opens the store (and on etcd the node's local copy), joins
// the cluster, and makes the service on it, doing the start work unless
// the node started from its local copy.
func (a *App) startStore(ctx context.Context, p *startParts) error {
	cfg := a.cfg
	rs := &a.runners
	st, cache, offline, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	a.store = st
	p.cache, p.offline = cache, offline
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
	_ = rs.start(runner{name: "cluster", close: a.cluster.Close})
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
	p.token = token
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
	return nil
}

// startSnapshot starts the data plane's source: a snapshot compiled from
// the store by the watcher, the metrics registry, and the subscriptions of
// the parts that follow the snapshot or the VPC networks.
func (a *App) startSnapshot(p *startParts) error {
	cfg := a.cfg
	holder := &snapshot.Holder{}
	a.holder = holder
	// Metrics: one registry, injected into each part through its hook.
	var met *metrics.Metrics
	if cfg.MetricsAddr != "" {
		met = metrics.New()
		a.metrics = met
		met.WatchCluster(a.cluster, []string{cluster.ElectionCanaries, cluster.ElectionSweeper})
	}
	p.registry = &upstream.Registry{Outlier: cfg.Outlier}
	drain := cfg.DrainTime
	if drain == 0 {
		drain = time.Minute
	}
	root := a.root
	watcher := &watch.Watcher{Store: a.store, Holder: holder, Logger: cfg.Logger, Cache: p.cache, FromCache: p.offline != nil,
		Options: snapshot.Options{Region: cfg.Region, DrainTime: drain, Roots: []model.AccessKey{{ID: root.AccessKeyID,
			Secret: root.SecretAccessKey, PrincipalARN: root.PrincipalARN(), Account: root.Account, Status: "Active"}}, AdminAccount: root.Account,
			IngressPrefix: ingressPrefixOf(cfg), NodeIngressPrefix: cfg.NodeIngressPrefix, ResourcePrefix: cfg.ResourcePrefix,
			DNSToken: p.token}}
	// The namespaces of netns VPCs follow the snapshot first; the proxy,
	// the checker and DNS follow the namespaces (vpcnet.Runner), so that a
	// VPC's namespace exists before they open sockets in it.
	nets := &vpcnet.Runner{Holder: holder, Prefix: service.NetnsPrefix(p.token), Logger: cfg.Logger, CAPEM: a.ca.CertPEM}
	a.nets = nets
	if met != nil {
		watcher.OnPublish = met.Snapshot.Published
		met.WatchStore(watcher)
	}
	p.netsChanges, p.pruneChanges = watcher.Subscribe(), watcher.Subscribe()
	// Roles (docs/etcd.md): the snapshot is compiled on every node (the
	// API's DNS lookups and policy simulation read it, the sweeper finds
	// draining groups in it); the data plane's parts start only with the
	// dataplane role, the checker only with the health role.
	roles := cfg.Roles
	if !cfg.DisableFunctionHost && roles.Dataplane {
		p.fnChanges = watcher.Subscribe()
	}
	if roles.Dataplane && !roles.Health && a.view != nil {
		p.feedChanges = watcher.Subscribe()
	}
	p.proxyChanges, p.healthChanges = nets.Subscribe(), nets.Subscribe()
	if cfg.DNS.Port != 0 {
		p.dnsChanges = nets.Subscribe()
	}
	return a.runners.start(runner{name: watcher.Name(), start: func(ctx context.Context, _ *loops) error {
		if err := watcher.Start(ctx); err != nil {
			return fmt.Errorf("compile the first snapshot: %w", err)
		}
		return nil
	}})
}

// startNetworks starts the namespaces of netns VPCs, which the proxy, the
// checker and DNS follow (dataplane and health roles).
func (a *App) startNetworks(p *startParts) error {
	nets, log, changes := a.nets, a.cfg.Logger, p.netsChanges
	return a.runners.start(runner{name: "vpc-networks", start: func(ctx context.Context, g *loops) error {
		if err := nets.Sync(); err != nil {
			log.Warn("data plane: some VPC namespaces failed; will retry", "err", err)
		}
		g.Go(func() { nets.Run(ctx, changes) })
		return nil
	}, close: func(context.Context) error {
		// The namespaces stay, with what runs inside, for the next start.
		nets.Close()
		return nil
	}})
}

// buildHealth builds the health checker (on every node; it runs only with
// the health role, startChecker) and gives the service the target health
// that ListTargets reports.
func (a *App) buildHealth(p *startParts) {
	cfg, met := a.cfg, a.metrics
	hcfg := health.Config{Holder: a.holder, Registry: p.registry, Logger: cfg.Logger, IntervalScale: cfg.HealthCheckSecond,
		MaxConcurrentChecks: cfg.HealthCheckConcurrency, Net: a.nets.Lookup}
	if met != nil {
		hcfg.OnCheck = met.Health.ObserveCheck
	}
	if pub, ok := a.cluster.(*cluster.Etcd); ok && cfg.Roles.Health {
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
		met.WatchTargets(a.holder.Load, targetHealth.TargetStatus)
	}
	a.svc.SetTargetHealth(targetHealth)
}

// startHealthFeed routes a data plane without a checker of its own by the
// cluster's combined statuses (nodes.go).
func (a *App) startHealthFeed(p *startParts) error {
	holder, registry, view, feed, changes := a.holder, p.registry, a.view, a.feed, p.feedChanges
	return a.runners.start(runner{name: "health-feed", start: func(ctx context.Context, g *loops) error {
		g.Go(func() { feedHealth(ctx, holder, registry, view, feed, changes) })
		return nil
	}})
}

// startChecker runs the health checker (health role).
func (a *App) startChecker(p *startParts) error {
	checker, changes := a.checker, p.healthChanges
	return a.runners.start(runner{name: "health-checker", start: func(ctx context.Context, g *loops) error {
		checker.Sync()
		g.Go(func() { checker.Run(ctx, changes) })
		return nil
	}, close: func(context.Context) error { checker.Close(); return nil }})
}

// startDataPlane starts the parts that serve traffic: the access logs, the
// functions, the proxy and its ingress, the upkeep, DNS. It runs on every
// node: the access logs (whose live taps the API's `trellis logs tail`
// reads), the proxy, the Invoke API client, the tracer and the upkeep are
// there whatever the roles; the function host, the ingress and DNS start
// only with the dataplane role.
func (a *App) startDataPlane(ctx context.Context, p *startParts) error {
	if err := a.startAccessLogs(); err != nil {
		return err
	}
	p.picker = &upstream.Picker{Registry: p.registry}
	p.authz = auth.New(a.holder, a.cfg.Region, nil)
	invoker, err := a.startFunctions(ctx, p)
	if err != nil {
		return err
	}
	px, err := a.startProxy(p, invoker)
	if err != nil {
		return err
	}
	// Without the dataplane role there is no ingress: the proxy is built
	// but serves nothing.
	if a.cfg.Roles.Dataplane {
		if err := a.startIngress(px, p.proxyChanges); err != nil {
			return err
		}
	}
	if err := a.startUpkeep(p); err != nil {
		return err
	}
	if a.cfg.DNS.Port != 0 && a.cfg.Roles.Dataplane {
		return a.startDNS(p)
	}
	return nil
}

// startAccessLogs opens the access logger.
func (a *App) startAccessLogs() error {
	cfg := a.cfg
	if cfg.AccessLogDir == "" {
		cfg.AccessLogDir = filepath.Join(cfg.DataDir, "accesslogs")
	}
	alog, err := accesslog.New(accesslog.Config{Dir: cfg.AccessLogDir, Region: cfg.Region, Logger: cfg.Logger,
		S3ObjectInterval: cfg.AccessLogS3Interval, Taps: cfg.AccessLogTaps, Node: cfg.NodeName})
	if err != nil {
		return fmt.Errorf("access logs: %w", err)
	}
	a.alog = alog
	if a.metrics != nil {
		a.metrics.WatchAccessLog(alog)
	}
	// Closed after the ingress: the last requests' records are written too.
	return a.runners.start(runner{name: "access-logs", close: func(context.Context) error { return alog.Close() }})
}

// startFunctions makes what invokes the functions of LAMBDA target groups
// and starts the function host (dataplane role).
func (a *App) startFunctions(ctx context.Context, p *startParts) (functionInvoker, error) {
	cfg, rs, met := a.cfg, &a.runners, a.metrics
	// LAMBDA target groups: hosted functions here (functionInvoker), others
	// through the Invoke API at --lambda-endpoint, if one is set.
	var invoker functionInvoker
	if !cfg.DisableFunctionHost && cfg.Roles.Dataplane {
		fcfg := functions.Config{Source: a.svc, Dir: filepath.Join(cfg.DataDir, "functions"),
			Region: cfg.Region, DefaultAccount: a.root.Account, IdleTimeout: cfg.FunctionIdleTimeout, Logger: cfg.Logger}
		if met != nil {
			fcfg.OnEvent = met.Functions.ObserveEvent
		}
		a.fnHost = functions.New(fcfg)
		invoker.host = a.fnHost
	}
	if cfg.LambdaEndpoint != "" {
		remote, err := lambda.NewRemote(ctx, lambda.RemoteConfig{Endpoint: cfg.LambdaEndpoint, Region: cfg.LambdaRegion})
		if err != nil {
			return invoker, err
		}
		invoker.remote = remote
		_ = rs.start(runner{name: "lambda-invoker", close: func(context.Context) error { remote.Close(); return nil }})
		cfg.Logger.Info("lambda: invoking functions not hosted here through the Invoke API", "endpoint", cfg.LambdaEndpoint, "region", cfg.LambdaRegion)
	}
	// Hosted functions (docs/functions.md): started before the ingress and
	// the API that invoke them, closed after both (in-flight requests to a
	// LAMBDA group finish), with every worker process.
	if host, changes := a.fnHost, p.fnChanges; host != nil {
		if err := rs.start(runner{name: "function-host", start: func(ctx context.Context, g *loops) error {
			g.Go(func() { host.Run(ctx, changes) })
			return nil
		}, close: host.Close}); err != nil {
			return invoker, err
		}
	}
	return invoker, nil
}

// startProxy builds the proxy, with its observers and tracer, and the
// ingress that serves it (started by startIngress).
func (a *App) startProxy(p *startParts, invoker functionInvoker) (*proxy.Proxy, error) {
	cfg, met, holder, nets := a.cfg, a.metrics, a.holder, a.nets
	pcfg := proxy.Config{Holder: holder, Registry: p.registry, Auth: p.authz,
		Picker: p.picker, RequestTimeout: cfg.RequestTimeout, Logger: cfg.Logger,
		AccessLog: a.alog, Net: nets.Lookup, Lambda: invoker}
	var observers proxy.Observers
	if met != nil {
		observers = append(observers, met.DataPlane)
		pcfg.TargetConns = met.Conns
	}
	if cfg.TrafficWindow >= 0 && cfg.Roles.Dataplane {
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
			return nil, err
		}
		// Closed after the proxy (runners close in reverse): the spans of
		// the last requests are flushed.
		_ = a.runners.start(runner{name: "tracing", close: tr.Shutdown})
		pcfg.Tracer = tr
	}
	px := proxy.New(pcfg)
	a.proxy = px
	// HTTPS listeners: certificates by SNI from the current snapshot (the
	// installation CA's for generated names, ACM's for custom domains);
	// TLS_PASSTHROUGH listeners: relayed by SNI without terminating.
	term := tlsterm.New(tlsterm.Config{Holder: holder, CA: a.ca, Logger: cfg.Logger})
	passCfg := passthrough.Config{Holder: holder, Picker: p.picker, Net: nets.Lookup, AccessLog: a.alog, Logger: cfg.Logger, Auth: p.authz}
	if met != nil {
		passCfg.Resources = met.Resources
	}
	pass := passthrough.New(passCfg)
	icfg := ingress.Config{Holder: holder, Handler: px.Handler, Rejected: px.Rejected, AfterSync: px.Forget,
		Net: nets.Lookup, Logger: cfg.Logger, StdServer: cfg.StdHTTPServer, StdH2: cfg.StdH2Server, TLS: term.Config, Passthrough: pass, Resources: pass}
	if met != nil {
		icfg.ConnObserver = met.Conns
	}
	in := ingress.New(icfg)
	a.ingress = in
	if met != nil {
		met.WatchIngress(in)
	}
	return px, nil
}

// startIngress starts the ingress's listeners (dataplane role); closing it
// drains them, then drops the proxy's idle connections to targets.
func (a *App) startIngress(px *proxy.Proxy, changes <-chan struct{}) error {
	in, log := a.ingress, a.cfg.Logger
	return a.runners.start(runner{name: "ingress", start: func(ctx context.Context, g *loops) error {
		if err := in.Sync(ctx); err != nil {
			log.Warn("data plane: some ingress listeners failed", "err", err)
		}
		g.Go(func() { _ = in.Run(ctx, changes) })
		return nil
	}, close: func(ctx context.Context) error {
		err := in.Close(ctx)
		px.CloseIdle()
		return err
	}})
}

// startUpkeep starts the GC floor and the registry's pruning.
func (a *App) startUpkeep(p *startParts) error {
	cfg, holder, registry, changes := a.cfg, a.holder, p.registry, p.pruneChanges
	return a.runners.start(runner{name: "upkeep", start: func(ctx context.Context, g *loops) error {
		g.Go(func() { gcfloor.Run(ctx, cfg.GCFloor, time.Second, cfg.Logger) })
		g.Go(func() { pruneRegistry(ctx, holder, registry, changes) })
		return nil
	}})
}

// startDNS starts the VPCs' DNS (dataplane role, --dns-port set).
func (a *App) startDNS(p *startParts) error {
	cfg := a.cfg
	a.dns = newDNS(cfg, a.holder, p.dnsChanges, a.nets, a.metrics)
	return a.runners.start(runner{name: a.dns.Name(), start: func(ctx context.Context, _ *loops) error {
		if err := a.dns.Start(ctx); err != nil {
			return err
		}
		cfg.Logger.Info("dns: VPC resolvers", "port", cfg.DNS.Port, "upstreams", cfg.DNS.Upstreams)
		return nil
	}, close: a.dns.Close})
}

// newAPIHandler builds the API's handler on every node; only a node with
// the api role serves it (startAPI).
func (a *App) newAPIHandler() *api.Server {
	cfg, met, holder, svc := a.cfg, a.metrics, a.holder, a.svc
	// Root credentials first, then the access keys in the store.
	verifier := &sigv4.Verifier{Service: "vpc-lattice", Region: cfg.Region, Keys: identity.NewChain(identity.NewKeys(a.root), svc)}
	handler := api.New(svc, verifier, cfg.Logger)
	if met != nil {
		handler.SetCallObserver(met.API.ObserveCall)
	}
	handler.SetDNS(dnsAddress(a.dns), dnsLookup(holder, a.dns))
	handler.SetCertificateAuthority(a.ca.CertPEM)
	if a.traffic != nil {
		handler.SetTraffic(trafficSource{a.traffic})
	} else {
		handler.SetTraffic(nil)
	}
	// `trellis logs tail`: the access logger's live taps (accesslog_tap.go).
	handler.SetAccessLogTap(accessLogTap{a.alog.Taps()}, 0)
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
	return handler
}

// startAPI starts what runs with the api role: the canaries and the
// sweeper under their elections, the offline gate of a node started from
// its local copy, and last the API listener.
func (a *App) startAPI(p *startParts, handler *api.Server) error {
	cfg, rs, st, svc := a.cfg, &a.runners, a.store, a.svc
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
	if err := rs.start(a.electedRunner(canaries, svc, a.holder)); err != nil {
		return err
	}
	if p.offline != nil {
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
		token := p.token
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
	var h http.Handler = handler
	if cfg.Console {
		h = withConsole(handler)
	}
	a.apiSrv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	// Shutdown waits for handlers: open log streams end first (with an
	// "end" line) rather than holding it up.
	a.apiSrv.RegisterOnShutdown(a.alog.Taps().Close)
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
