package main

import (
	"os"
	"strings"
	"testing"
)

// Out-of-range reliability settings are refused before anything starts,
// with the flag named.
func TestReliabilityFlagsRejected(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--outlier-consecutive-failures", "-1"}, "--outlier-consecutive-failures -1: want 0 (off) or more"},
		{[]string{"--outlier-base-ejection-time", "0s"}, "--outlier-base-ejection-time 0s: want more than 0"},
		{[]string{"--outlier-max-ejection-time", "10s"}, "--outlier-max-ejection-time 10s: want at least --outlier-base-ejection-time (30s)"},
		{[]string{"--outlier-max-ejection-percent", "101"}, "--outlier-max-ejection-percent 101: want 0 to 100"},
		{[]string{"--stall-timeout", "-1s"}, "--stall-timeout -1s: want 0 (off) or more"},
		{[]string{"--health-check-concurrency", "0"}, "--health-check-concurrency 0: want 1 or more"},
		{[]string{"--function-idle-timeout", "0s"}, "--function-idle-timeout 0s: want a positive duration"},
	} {
		serveRejects(t, tc.args, tc.want)
	}
}

// A --lambda-endpoint that is no http or https base URL is refused before
// anything starts, with the flag named.
func TestLambdaFlagsRejected(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--lambda-endpoint", "ftp://lambda.example.com"}, `--lambda-endpoint "ftp://lambda.example.com": want an http or https URL`},
		{[]string{"--lambda-endpoint", "localhost:4566"}, "--lambda-endpoint"},
		{[]string{"--lambda-endpoint", "http://"}, `--lambda-endpoint "http://": no host`},
		{[]string{"--lambda-endpoint", "http://h/?x=1"}, "without user info, query or fragment"},
		{[]string{"--lambda-region", "eu-west-1"}, "--lambda-region: needs --lambda-endpoint"},
	} {
		serveRejects(t, tc.args, tc.want)
	}
}

// Tracing flags are checked before anything starts, with the flag named.
func TestTracingFlagsRejected(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--otlp-endpoint", "127.0.0.1:4318"}, "--otlp-endpoint"},
		{[]string{"--otlp-endpoint", "ftp://collector/v1/traces"}, "--otlp-endpoint: want an http:// or https:// URL"},
		{[]string{"--otlp-endpoint", "http://u:p@collector:4318"}, "--otlp-endpoint: no user info"},
		{[]string{"--otlp-endpoint", "http://collector:4318", "--trace-sample", "1.5"}, "--trace-sample 1.5: want a ratio between 0 and 1"},
		{[]string{"--otlp-endpoint", "http://collector:4318", "--trace-sample", "-0.5"}, "--trace-sample -0.5: want a ratio"},
		{[]string{"--trace-sample", "0.5"}, "--trace-sample: needs --otlp-endpoint"},
	} {
		serveRejects(t, tc.args, tc.want)
	}
}

// serveRejects runs `serve` with args (and a fresh data directory) and
// checks that it fails with an error containing want before anything
// starts: the data directory is not created.
func serveRejects(t *testing.T, args []string, want string) {
	t.Helper()
	dir := t.TempDir() + "/data"
	cmd := serveCommand()
	cmd.SetArgs(append(args, "--data-dir", dir, "--api-addr", "127.0.0.1:0"))
	err := cmd.Execute()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("%v: error %v, want %q", args, err, want)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("%v: the data directory was created", args)
	}
}

// A negative traffic window is refused before anything starts; the help
// documents the flag.
func TestTrafficWindowFlag(t *testing.T) {
	serveRejects(t, []string{"--traffic-window", "-1m"}, "--traffic-window -1m0s: want a duration such as 1h, or 0 for none")
	cmd := serveCommand()
	if f := cmd.Flags().Lookup("traffic-window"); f == nil || f.DefValue != "1h0m0s" {
		t.Fatalf("--traffic-window: %+v, want a default of 1h", f)
	}
	if !strings.Contains(cmd.Long, "--traffic-window") {
		t.Fatal("serve --help does not explain --traffic-window")
	}
}

// A --node-ingress-prefix that cannot hold the installation's range, is
// not IPv4, or overlaps the netns range is refused before anything starts,
// naming the flag; the help documents it.
func TestNodeIngressPrefixFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--node-ingress-prefix", "bogus"}, `--node-ingress-prefix "bogus": want an IPv4 prefix`},
		{[]string{"--node-ingress-prefix", "fd00::/64"}, "--node-ingress-prefix fd00::/64: want an IPv4 prefix"},
		{[]string{"--node-ingress-prefix", "127.172.0.0/24"}, "--node-ingress-prefix 127.172.0.0/24: smaller than --ingress-cidr 127.171.0.0/16; want a /16 or larger"},
		{[]string{"--ingress-cidr", "127.171.0.0/24", "--node-ingress-prefix", "169.254.0.0/16"}, "--node-ingress-prefix 169.254.0.0/16: overlaps 169.254.171.0/24"},
		{[]string{"--node-ingress-prefix", "224.1.0.0/16"}, "--node-ingress-prefix 224.1.0.0/16: overlaps 224.0.0.0/3"},
		// A resolver that would be one of this node's own VPC resolvers.
		{[]string{"--node-ingress-prefix", "127.172.0.0/16", "--dns-upstream", "127.172.0.9:53"}, `dns upstream "127.172.0.9:53" is a VPC's own DNS (in the ingress range 127.172.0.0/16`},
	} {
		serveRejects(t, tc.args, tc.want)
	}
	cmd := serveCommand()
	if f := cmd.Flags().Lookup("node-ingress-prefix"); f == nil || f.DefValue != "" {
		t.Fatalf("--node-ingress-prefix: %+v, want no default", f)
	}
	if !strings.Contains(cmd.Long, "--node-ingress-prefix") {
		t.Fatal("serve --help does not explain --node-ingress-prefix")
	}
}

// A --resource-cidr that is not an IPv4 loopback prefix, or overlaps the
// ingress range or the node's, is refused before anything starts, naming
// the flag; the help documents it. (Left unset, a default that would
// overlap refuses nothing: host-mode VPCs then reach no resources, and the
// snapshot says so; internal/snapshot's TestResourcePrefixDefaultOverlap.)
func TestResourceCIDRFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--resource-cidr", "bogus"}, `--resource-cidr "bogus": want an IPv4 loopback prefix`},
		{[]string{"--resource-cidr", "10.0.0.0/16"}, `--resource-cidr "10.0.0.0/16": want an IPv4 loopback prefix`},
		{[]string{"--resource-cidr", "127.9.0.0/31"}, "--resource-cidr 127.9.0.0/31: want an IPv4 loopback prefix of /8 to /30"},
		{[]string{"--resource-cidr", "127.171.128.0/17"}, "--resource-cidr 127.171.128.0/17: overlaps --ingress-cidr 127.171.0.0/16"},
		{[]string{"--ingress-cidr", "127.200.0.0/16", "--resource-cidr", "127.200.0.0/13"}, "--resource-cidr 127.200.0.0/13: overlaps --ingress-cidr 127.200.0.0/16"},
		{[]string{"--node-ingress-prefix", "127.172.0.0/16", "--resource-cidr", "127.172.5.0/24"}, "--resource-cidr 127.172.5.0/24: overlaps --node-ingress-prefix 127.172.0.0/16"},
	} {
		serveRejects(t, tc.args, tc.want)
	}
	cmd := serveCommand()
	if f := cmd.Flags().Lookup("resource-cidr"); f == nil || f.DefValue != "127.200.0.0/13" {
		t.Fatalf("--resource-cidr: %+v, want a default of 127.200.0.0/13", f)
	}
	if !strings.Contains(cmd.Long, "--resource-cidr") {
		t.Fatal("serve --help does not explain --resource-cidr")
	}
}
