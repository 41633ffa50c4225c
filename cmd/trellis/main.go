// Command trellis is the one Trellis binary: `trellis serve` runs the
// server; every other subcommand is the CLI, which talks to a server through
// the AWS SDK.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/cli"
	"github.com/trellis-net/trellis/internal/dataplane/lambda"
	"github.com/trellis-net/trellis/internal/functions"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/tracing"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	root := &cobra.Command{
		Use:           "trellis",
		Short:         "Self-hosted application networking with the Amazon VPC Lattice model and API",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCommand(), versionCommand(), storeCommand())
	cli.AddCommands(root)
	if err := root.Execute(); err != nil {
		var exit *cli.ExitError
		if errors.As(err, &exit) {
			os.Exit(exit.Code) // the command run (trellis vpc exec) has spoken
		}
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func versionCommand() *cobra.Command {
	return &cobra.Command{Use: "version", Short: "Print the version", Args: cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "trellis", version) }}
}

type quotaFlag struct{ q model.Quotas }

func (f *quotaFlag) String() string { return "" }
func (f *quotaFlag) Set(s string) error {
	return f.q.Set(s)
}
func (f *quotaFlag) Type() string { return "name=value" }

func serveCommand() *cobra.Command {
	cfg := app.Config{Quotas: model.Quotas{}, Outlier: app.DefaultOutlierDetection(), Version: version}
	var logLevel, ingressCIDR, resourceCIDR, nodeIngress, ingressServer string
	var gcFloorMiB uint64
	var dnsf dnsFlags
	var etcdf etcdFlags
	var storeKind, roles string
	functionHost := true
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run Trellis: the Lattice control-plane API on an embedded, durable store, and the data plane",
		Long: `Run Trellis with the embedded store in --data-dir, or, with --store etcd, on an
etcd cluster that several nodes share.

--store etcd --etcd-endpoints URL[,URL] keeps the state in etcd under
--etcd-prefix (default /trellis/); https endpoints are verified with
--etcd-cacert (default: the system's roots), and --etcd-cert/--etcd-key present
a client certificate. Every node of one installation must then be given the
same root credentials (TRELLIS_ROOT_ACCESS_KEY_ID and
TRELLIS_ROOT_SECRET_ACCESS_KEY, required) and the same CA (--ca-cert and
--ca-key, required): none are generated. --data-dir still holds what is this
node's own (access logs, hosted functions' logs). --node-name (default the
hostname) names this node; names must differ. 'trellis store copy' moves the
state from a data directory into etcd and back. --roles api,dataplane,health
(default all three) says what a node runs: api nodes serve the API and elect
one of them for canary steps and for deleting drained targets; dataplane nodes
serve the VPCs (each its own ingress addresses); health nodes check targets and
publish their statuses under the node's etcd lease, and every API node answers
ListTargets with the statuses of all health nodes combined (docs/etcd.md).

Root credentials of the default account come from TRELLIS_ROOT_ACCESS_KEY_ID and
TRELLIS_ROOT_SECRET_ACCESS_KEY; when unset, they are generated on first start and
kept in DATA_DIR/credentials.json (mode 0600). The region is TRELLIS_REGION
(default us-east-1), the default account ID TRELLIS_ACCOUNT_ID (default 000000000000).

The data plane gives every VPC (host mode) an ingress address from --ingress-cidr:
a client of that VPC reaches a service's listener on port P at ADDRESS:P, naming
the service in the Host header (its generated DNS name or custom domain).
GET /trellis/v1/vpcs/VPC_ID (or 'trellis vpc get VPC_ID') tells the address.
Each VPC's DNS listens on the same address, port --dns-port: it answers the names
of the services the VPC reaches with that address (docs/dns.md).
--node-ingress-prefix P moves this node's data plane: it serves each host-mode
VPC (ingress and DNS) at the address with the same offset in P as the VPC's
address has in --ingress-cidr (127.171.0.5 with 127.172.0.0/16: 127.172.0.5),
so that several data-plane nodes share one machine; P is as large as
--ingress-cidr or larger. The API still reports the stored address
(docs/deployment.md).

Each resource configuration a VPC reaches (through a resource gateway) has an
address of its own in that VPC: from --resource-cidr (default 127.200.0.0/13)
for host-mode VPCs, from 129.224.0.0/17 inside a netns VPC's namespace. Clients
resolve the resource association's generated name (or the configuration's
custom name, with privateDnsEnabled) at the VPC's DNS and connect to that
address and the configuration's port (docs/resources.md).

Network-namespace VPCs ('trellis vpc create VPC --mode netns --cidr 10.0.0.0/16')
need Linux and this server running as root: each is a network namespace
(trellis-TOKEN-VPC_ID) holding its CIDR blocks, with its ingress and DNS (port 53)
on a link-local address from 169.254.171.0/24 inside it; 'trellis vpc exec VPC --
CMD' runs a workload there, on this machine (docs/netns.md). Without root, such
VPCs are refused; host mode, the default, needs no privilege.

Hosted functions ('trellis function create NAME -- /path/bootstrap') run
on this machine as the user running this server, started on demand and served
the Lambda Runtime API; the Lambda Invoke API on --api-addr calls them, logs go
to DATA_DIR/functions/ACCOUNT/NAME.log. Only an account's root may declare one;
--function-host=false keeps this server from running any (docs/functions.md).

LAMBDA target groups invoke their function here when this server hosts it,
otherwise through the Lambda Invoke API at --lambda-endpoint (AWS, e.g.
https://lambda.us-east-1.amazonaws.com, or LocalStack), signed for
--lambda-region with the credentials of the standard AWS chain
(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ...); a function
found in neither is answered 500 (docs/lambda.md).

--metrics-addr HOST:PORT serves Prometheus metrics at http://HOST:PORT/metrics
(no SigV4: bind it where only your Prometheus reaches it): requests by service,
target group and status class, request time, API calls, health checks, DNS,
access logs, functions, snapshots, Go runtime (docs/metrics.md). Off by default,
and then the data plane counts nothing.

--otlp-endpoint URL exports a span per data-plane request (OpenTelemetry, OTLP
over HTTP, e.g. http://127.0.0.1:4318/v1/traces) with the Lattice service,
network, listener, rule, target group, target, auth decision and failure; a
client's traceparent is continued and targets get one of the same trace.
--trace-sample RATIO (0..1, default 1) records that share of traces. Off by
default, and then nothing is traced and headers pass as they came
(docs/tracing.md).

--traffic-window DURATION (default 1h) is how long the data plane keeps its
per-minute traffic aggregates — requests, 4xx, 5xx and p50/p99 latency by
service, caller principal, source VPC and target group — kept also when access
logs are off; 'trellis traffic' and GET /trellis/v1/traffic read them; 0 keeps
none (docs/traffic.md).

--console (default true) serves the web console at http://API_ADDR/console/ (on
the API address: http://127.0.0.1:8686/console/ by default): embedded in this
binary, it needs no network access. Sign in with an access key; the keys stay in
the browser tab, which signs every call to this API like any AWS SDK client, so a
user sees what the API lets their account see. --console=false turns it off
(docs/console.md).

SIGTERM or SIGINT stops accepting connections, lets in-flight requests finish
and exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level: %w", err)
			}
			p, err := netip.ParsePrefix(ingressCIDR)
			if err != nil || !p.Addr().Is4() || !p.Addr().IsLoopback() {
				return fmt.Errorf("--ingress-cidr %q: want an IPv4 loopback prefix such as 127.171.0.0/16", ingressCIDR)
			}
			cfg.IngressPrefix = p.Masked()
			if cmd.Flags().Changed("resource-cidr") {
				rp, err := netip.ParsePrefix(resourceCIDR)
				if err != nil || !rp.Addr().Is4() || !rp.Addr().IsLoopback() {
					return fmt.Errorf("--resource-cidr %q: want an IPv4 loopback prefix such as 127.200.0.0/13", resourceCIDR)
				}
				cfg.ResourcePrefix = rp.Masked() // app checks the rest
			}
			if nodeIngress != "" {
				np, err := netip.ParsePrefix(nodeIngress)
				if err != nil {
					return fmt.Errorf("--node-ingress-prefix %q: want an IPv4 prefix such as 127.172.0.0/16", nodeIngress)
				}
				cfg.NodeIngressPrefix = np.Masked() // app checks the rest
			}
			switch ingressServer {
			case "trellis":
			case "net-http":
				cfg.StdHTTPServer = true
			case "net-http-h2":
				cfg.StdH2Server = true
			default:
				return fmt.Errorf("--ingress-server %q: want trellis, net-http or net-http-h2", ingressServer)
			}
			if err := checkReliabilityFlags(&cfg); err != nil {
				return err
			}
			if err := checkLambdaFlags(&cfg); err != nil {
				return err
			}
			if err := checkStoreFlags(cmd.Flags(), &cfg, storeKind, &etcdf, roles); err != nil {
				return err
			}
			if cfg.MetricsAddr != "" {
				if _, _, err := net.SplitHostPort(cfg.MetricsAddr); err != nil {
					return fmt.Errorf("--metrics-addr %q: want HOST:PORT, e.g. 127.0.0.1:9686", cfg.MetricsAddr)
				}
			}
			if cfg.OTLPEndpoint != "" {
				if _, err := tracing.ValidateEndpoint(cfg.OTLPEndpoint); err != nil {
					return err
				}
			}
			switch {
			case cfg.TrafficWindow < 0:
				return fmt.Errorf("--traffic-window %v: want a duration such as 1h, or 0 for none", cfg.TrafficWindow)
			case cfg.TrafficWindow == 0:
				cfg.TrafficWindow = -1 // app: a negative window keeps none
			}
			if cmd.Flags().Changed("trace-sample") && cfg.OTLPEndpoint == "" {
				return errors.New("--trace-sample: needs --otlp-endpoint")
			}
			if !(cfg.TraceSample >= 0 && cfg.TraceSample <= 1) {
				return fmt.Errorf("--trace-sample %v: want a ratio between 0 and 1", cfg.TraceSample)
			}
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
			if err := dnsf.config(&cfg, "/etc/resolv.conf", cfg.Logger); err != nil {
				return err
			}
			cfg.GCFloor = gcFloorMiB << 20
			cfg.DisableFunctionHost = !functionHost
			if cfg.FunctionIdleTimeout <= 0 {
				return fmt.Errorf("--function-idle-timeout %v: want a positive duration", cfg.FunctionIdleTimeout)
			}
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			a, err := app.Start(ctx, cfg)
			if err != nil {
				return err
			}
			if cfg.Console && a.APIAddr() != "" {
				cfg.Logger.Info("web console", "url", "http://"+a.APIAddr()+"/console/")
			}
			werr := a.Wait(ctx)
			cfg.Logger.Info("shutting down")
			if err := a.Close(); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return werr
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "./trellis-data", "directory of the embedded store and generated credentials")
	f.StringVar(&storeKind, "store", app.StoreEmbedded, "where the state is kept: embedded (bbolt in --data-dir) or etcd (--etcd-endpoints; docs/etcd.md)")
	etcdf.add(f, true)
	f.StringVar(&cfg.NodeName, "node-name", defaultNodeName(), "name of this node among the nodes sharing a store (default the hostname)")
	f.StringVar(&roles, "roles", "api,dataplane,health", "what this node runs, a comma-separated list: api (the control-plane API, canaries, the drained-target sweeper), dataplane (ingress, proxy, DNS, VPC namespaces, functions, access logs), health (health checks, published to the other nodes); other than all three needs --store etcd (docs/etcd.md)")
	f.StringVar(&cfg.APIAddr, "api-addr", "127.0.0.1:8686", "address of the control-plane API (AWS VPC Lattice wire format and /trellis/v1/)")
	f.StringVar(&cfg.CACertFile, "ca-cert", "", "PEM certificate of the installation CA, with --ca-key (default: generated into DATA_DIR/ca.pem on first start; see docs/certificates.md)")
	f.StringVar(&cfg.CAKeyFile, "ca-key", "", "PEM private key of the installation CA given with --ca-cert")
	f.StringVar(&cfg.Region, "region", "", "region of this installation (default $TRELLIS_REGION or us-east-1)")
	f.Var(&quotaFlag{cfg.Quotas}, "quota", "override a quota, e.g. --quota services=5000 (repeatable); names: service-networks, services, target-groups, target-groups-per-service, listeners-per-service, rules-per-listener, targets-per-target-group, vpc-associations-per-service-network, service-associations-per-service-network, resource-gateways-per-vpc, resource-configurations, child-configurations-per-group, domain-verifications")
	f.DurationVar(&cfg.DrainTime, "drain-time", time.Minute, "how long a deregistered target stays DRAINING")
	f.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long SIGTERM waits for in-flight requests")
	f.StringVar(&ingressCIDR, "ingress-cidr", "127.171.0.0/16", "loopback range from which each host-mode VPC gets its ingress address (the data plane listens on ADDRESS:PORT for every listener port the VPC reaches)")
	f.StringVar(&resourceCIDR, "resource-cidr", "127.200.0.0/13", "loopback range from which each host-mode VPC gets one address per resource configuration it reaches (the data plane listens on ADDRESS:PORT for each of its ports; the VPC's DNS answers the configuration's names with it); must not overlap --ingress-cidr; with --node-ingress-prefix, give each node its own (unset there: host-mode VPCs reach no resources; see docs/resources.md)")
	f.StringVar(&nodeIngress, "node-ingress-prefix", "", "serve each host-mode VPC at the address with the same offset in this prefix as its ingress address has in --ingress-cidr, so that several data-plane nodes share a machine (the API still reports the stored address; default: the stored address; see docs/deployment.md)")
	f.StringVar(&cfg.DomainVerificationResolver, "domain-verification-resolver", "", "DNS server (IP:PORT) that domain verifications ask for their TXT record (default: none; the administrator verifies with POST /trellis/v1/domainverifications/ID/verify; see docs/resources.md)")
	f.DurationVar(&cfg.RequestTimeout, "request-timeout", time.Minute, "how long the data plane waits for a target's response headers before answering 504")
	f.StringVar(&cfg.AccessLogDir, "access-log-dir", "", "where access logs of services and networks with access log subscriptions are written, by destination ARN (default DATA_DIR/accesslogs; see docs/access-logs.md)")
	f.DurationVar(&cfg.AccessLogS3Interval, "access-log-s3-interval", time.Minute, "how long an S3 access log object collects records (written as NAME.json.gz.partial) before it is sealed as NAME.json.gz")
	f.StringVar(&ingressServer, "ingress-server", "trellis", "HTTP server of the data plane's sockets: trellis (its own HTTP/1.x and HTTP/2 servers, built for the proxy), net-http (Go's standard server, a fallback; cleartext only) or net-http-h2 (Trellis's HTTP/1.x server, Go's HTTP/2 server)")
	f.Uint64Var(&gcFloorMiB, "gc-floor-mib", 64, "let the heap grow by at least this many MiB between garbage collections (fewer collections for a small heap; 0: Go's default pacing; ignored when GOGC is set)")
	dnsf.add(f)
	f.StringVar(&cfg.LambdaEndpoint, "lambda-endpoint", "", "base URL of the Lambda Invoke API that LAMBDA target groups' functions are invoked through (http or https, e.g. https://lambda.us-east-1.amazonaws.com or LocalStack's http://localhost:4566); credentials from the standard AWS chain")
	f.StringVar(&cfg.LambdaRegion, "lambda-region", "", "region the invocations at --lambda-endpoint are signed for (default: the installation's region)")
	f.StringVar(&cfg.MetricsAddr, "metrics-addr", "", "address (HOST:PORT) serving Prometheus metrics at /metrics, unauthenticated (default: off; see docs/metrics.md)")
	f.StringVar(&cfg.OTLPEndpoint, "otlp-endpoint", "", "OTLP/HTTP URL the data plane's request spans are exported to, e.g. http://127.0.0.1:4318/v1/traces (default: off; see docs/tracing.md)")
	f.Float64Var(&cfg.TraceSample, "trace-sample", 1, "ratio of traces recorded and exported with --otlp-endpoint, 0..1")
	f.DurationVar(&cfg.TrafficWindow, "traffic-window", time.Hour, "how long the data plane keeps per-minute traffic aggregates for 'trellis traffic' (minute granularity; 0: none; see docs/traffic.md)")
	f.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	od := cfg.Outlier
	f.Int32Var(&od.ConsecutiveFailures, "outlier-consecutive-failures", od.ConsecutiveFailures, "eject a target after this many failed requests in a row (5xx answers, failed connections, resets, timeouts); 0 disables ejection")
	f.DurationVar(&od.BaseEjectionTime, "outlier-base-ejection-time", od.BaseEjectionTime, "how long a first ejection lasts; the n-th lasts n times as long")
	f.DurationVar(&od.MaxEjectionTime, "outlier-max-ejection-time", od.MaxEjectionTime, "the longest an ejection lasts")
	f.IntVar(&od.MaxEjectionPercent, "outlier-max-ejection-percent", od.MaxEjectionPercent, "at most this share of a target group's targets is ejected at once (at least one of two or more, never the last)")
	f.DurationVar(&od.StallTimeout, "stall-timeout", od.StallTimeout, "a target with requests awaiting its response headers and no response for this long gets no new requests until it answers; 0 disables")
	f.IntVar(&cfg.HealthCheckConcurrency, "health-check-concurrency", app.DefaultHealthCheckConcurrency, "at most this many active health checks in flight; due checks wait for a slot")
	f.BoolVar(&functionHost, "function-host", true, "run hosted functions on this machine, as this server's user (false: functions can be declared but Invoke answers ServiceException; see docs/functions.md)")
	f.BoolVar(&cfg.Console, "console", true, "serve the embedded web console at /console/ on --api-addr (static files; every data call is signed by the browser; see docs/console.md)")
	f.DurationVar(&cfg.FunctionIdleTimeout, "function-idle-timeout", functions.DefaultIdleTimeout, "stop a hosted function's worker process after it has been idle this long")
	return cmd
}

// checkReliabilityFlags rejects outlier detection and health check
// settings out of range, naming the flag.
func checkReliabilityFlags(cfg *app.Config) error {
	if cfg.HealthCheckConcurrency < 1 {
		return fmt.Errorf("--health-check-concurrency %d: want 1 or more", cfg.HealthCheckConcurrency)
	}
	if err := cfg.Outlier.Validate(); err != nil {
		return errors.New(outlierFlags.Replace(err.Error())) // it names the fields
	}
	return nil
}

// checkLambdaFlags rejects a --lambda-endpoint that is no http or https
// base URL, and a --lambda-region without an endpoint, naming the flag.
func checkLambdaFlags(cfg *app.Config) error {
	if cfg.LambdaEndpoint == "" {
		if cfg.LambdaRegion != "" {
			return errors.New("--lambda-region: needs --lambda-endpoint")
		}
		return nil
	}
	if _, err := lambda.ParseEndpoint(cfg.LambdaEndpoint); err != nil {
		return fmt.Errorf("--lambda-endpoint %w", err)
	}
	return nil
}

// outlierFlags puts the flags' names on upstream.OutlierDetection's fields.
var outlierFlags = strings.NewReplacer(
	"ConsecutiveFailures", "--outlier-consecutive-failures",
	"BaseEjectionTime", "--outlier-base-ejection-time",
	"MaxEjectionTime", "--outlier-max-ejection-time",
	"MaxEjectionPercent", "--outlier-max-ejection-percent",
	"StallTimeout", "--stall-timeout",
)
