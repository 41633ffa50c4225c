// Package apptest starts a real Trellis server for tests: a temporary data
// directory, the embedded store (or etcd, Options.Store), the API on a free
// loopback port.
package apptest

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/trellis-net/trellis/internal/app"
	"github.com/trellis-net/trellis/internal/canary"
	"github.com/trellis-net/trellis/internal/cluster"
	"github.com/trellis-net/trellis/internal/dataplane/accesslog"
	"github.com/trellis-net/trellis/internal/dataplane/upstream"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store/etcd"
)

// Server is a running test server.
type Server struct {
	App             *app.App
	Endpoint        string // http://127.0.0.1:PORT
	AccessKeyID     string
	SecretAccessKey string
	Region          string
	Account         string
	DataDir         string
}

// Options adjust the server.
type Options struct {
	DataDir string
	Quotas  model.Quotas
	Env     map[string]string
	// HealthCheckSecond shortens health check intervals and timeouts:
	// one configured second lasts this long (default a real second).
	HealthCheckSecond time.Duration
	// RequestTimeout is the data plane's wait for response headers.
	RequestTimeout time.Duration
	// AccessLogS3Interval is how long an S3 access log object collects
	// records before it is sealed (default a minute).
	AccessLogS3Interval time.Duration
	// Outlier configures outlier ejection and stall detection (default
	// upstream.DefaultOutlierDetection).
	Outlier *upstream.OutlierDetection
	// DNS configures the VPCs' DNS (default off).
	DNS app.DNSConfig
	// CACertFile and CAKeyFile give the installation CA (default:
	// generated into the data directory).
	CACertFile, CAKeyFile string
	// DisableFunctionHost turns the function host off (--function-host=false).
	DisableFunctionHost bool
	// LambdaEndpoint is the Lambda Invoke API of LAMBDA target groups
	// whose function is not hosted here (default none).
	LambdaEndpoint string
	// MetricsAddr serves /metrics (e.g. "127.0.0.1:0"; default off):
	// Server.App.MetricsAddr() tells the address.
	MetricsAddr string
	// OTLPEndpoint and TraceSample turn tracing on (app.Config).
	OTLPEndpoint string
	TraceSample  float64
	// CanaryStats and CanaryTick configure canaries (app.Config).
	CanaryStats canary.Stats
	CanaryTick  time.Duration
	// TrafficWindow is app.Config's (0: the default hour; negative: off).
	TrafficWindow time.Duration
	// AccessLogTaps bounds the live access log streams (app.Config).
	AccessLogTaps accesslog.TapLimits
	// Store, Etcd and NodeName choose the store (app.Config; default the
	// embedded store in the data directory).
	Store    string
	Etcd     etcd.Config
	NodeName string
	// Roles, ClusterTTL, HealthFlushInterval, SweepInterval and DrainTime
	// are app.Config's (default every role, the defaults).
	Roles               cluster.Roles
	ClusterTTL          time.Duration
	HealthFlushInterval time.Duration
	SweepInterval       time.Duration
	DrainTime           time.Duration
	// IngressPrefix and NodeIngressPrefix are app.Config's (default
	// 127.171.0.0/16 and none).
	IngressPrefix, NodeIngressPrefix netip.Prefix
	// ResourcePrefix is app.Config's (default 127.200.0.0/13).
	ResourcePrefix netip.Prefix
	// DomainVerificationResolver and DomainVerificationInterval are
	// app.Config's.
	DomainVerificationResolver string
	DomainVerificationInterval time.Duration
	// Console serves the web console under /console/ (serve --console).
	Console bool
	// ShutdownTimeout bounds App.Close (serve --shutdown-timeout; default
	// app.Config's).
	ShutdownTimeout time.Duration
	// Logger receives the App's log (default: discarded).
	Logger *slog.Logger
}

// Start starts a server that stops when the test ends.
func Start(t testing.TB) *Server { return StartWith(t, Options{}) }

// StartWith starts a server with options.
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	dir := o.DataDir
	if dir == "" {
		dir = t.TempDir()
	}
	env := func(k string) string { return o.Env[k] }
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	a, err := app.Start(context.Background(), app.Config{DataDir: dir, APIAddr: "127.0.0.1:0", Quotas: o.Quotas,
		HealthCheckSecond:          o.HealthCheckSecond,
		RequestTimeout:             o.RequestTimeout,
		AccessLogS3Interval:        o.AccessLogS3Interval,
		Outlier:                    o.Outlier,
		DNS:                        o.DNS,
		CACertFile:                 o.CACertFile,
		CAKeyFile:                  o.CAKeyFile,
		DisableFunctionHost:        o.DisableFunctionHost,
		LambdaEndpoint:             o.LambdaEndpoint,
		MetricsAddr:                o.MetricsAddr,
		OTLPEndpoint:               o.OTLPEndpoint,
		TraceSample:                o.TraceSample,
		CanaryStats:                o.CanaryStats,
		CanaryTick:                 o.CanaryTick,
		TrafficWindow:              o.TrafficWindow,
		AccessLogTaps:              o.AccessLogTaps,
		Store:                      o.Store,
		Etcd:                       o.Etcd,
		NodeName:                   o.NodeName,
		Roles:                      o.Roles,
		ClusterTTL:                 o.ClusterTTL,
		HealthFlushInterval:        o.HealthFlushInterval,
		SweepInterval:              o.SweepInterval,
		DrainTime:                  o.DrainTime,
		IngressPrefix:              o.IngressPrefix,
		NodeIngressPrefix:          o.NodeIngressPrefix,
		ResourcePrefix:             o.ResourcePrefix,
		DomainVerificationResolver: o.DomainVerificationResolver,
		DomainVerificationInterval: o.DomainVerificationInterval,
		Console:                    o.Console,
		ShutdownTimeout:            o.ShutdownTimeout,
		Getenv:                     env,
		Logger:                     logger})
	if err != nil {
		t.Fatalf("start trellis: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	r := a.Root()
	return &Server{App: a, Endpoint: "http://" + a.APIAddr(), AccessKeyID: r.AccessKeyID, SecretAccessKey: r.SecretAccessKey,
		Region: a.Region(), Account: r.Account, DataDir: dir}
}
