package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Target is one way from the load generator to the backend.
type Target struct {
	Name    string `json:"name"`
	Addr    string `json:"addr"`              // HTTP/1.1 (host:port)
	H2CAddr string `json:"h2cAddr,omitempty"` // cleartext HTTP/2 with prior knowledge; "" when it has none
	H2CNote string `json:"h2cNote,omitempty"` // why there is no h2c, or how it is served
	Setup   string `json:"setup"`             // one line: how it is configured
	// Host is the Host header (:authority for h2c) clients send.
	Host string `json:"host"`
	// StrictHost: an unknown Host must be answered 404 (Trellis).
	StrictHost bool `json:"-"`
}

// env is everything the targets share.
type env struct {
	dir      string // temp dir: configs, logs, data
	bin      string // built binaries
	backend  string // backend address
	host     string // the service's DNS name (Host for every target)
	cpuProxy string // taskset CPU list of the proxies
	cpuLoad  string // of the load generator and the backend
}

// startBackend starts the Go backend on the load generator's core.
func startBackend(e *env) (*Target, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	e.backend = "127.0.0.1:" + strconv.Itoa(port)
	p, err := startProc("backend", e.cpuLoad, filepath.Join(e.dir, "backend.log"), []string{"GOMAXPROCS=1"},
		filepath.Join(e.bin, "backend"), "-addr", e.backend)
	if err != nil {
		return nil, err
	}
	if err := waitTCP(p, e.backend, 10*time.Second); err != nil {
		return nil, err
	}
	return &Target{Name: "direct", Addr: e.backend, H2CAddr: e.backend,
		H2CNote: "the backend's net/http HTTP/2 server (its HTTP/1.1 path is hand-written)",
		Setup:   "client → backend, no proxy"}, nil
}

// trellisVPC is the VPC the benchmark's client lives in.
const trellisVPC = "vpc-0be7c4a11ce5d0001"

// startTrellis starts `trellis serve` with a fresh data directory and
// configures it through its API with the trellis CLI: one service network,
// one service, one HTTP listener, one IP target group with the backend, the
// service association and the VPC association. It sets e.host to the
// service's DNS name.
func startTrellis(e *env, ingressCIDR string) (*Target, error) {
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	lport, err := freePort()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(e.dir, "trellis-data")
	api := "127.0.0.1:" + strconv.Itoa(apiPort)
	bin := filepath.Join(e.bin, "trellis")
	p, err := startProc("trellis", e.cpuProxy, filepath.Join(e.dir, "trellis.log"), []string{"GOMAXPROCS=1"},
		bin, "serve", "--data-dir", data, "--api-addr", api, "--ingress-cidr", ingressCIDR, "--log-level", "warn")
	if err != nil {
		return nil, err
	}
	if err := waitTCP(p, api, 20*time.Second); err != nil {
		return nil, err
	}
	cliEnv := []string{"TRELLIS_ENDPOINT=http://" + api, "TRELLIS_DATA_DIR=" + data}
	cli := func(args ...string) (map[string]any, error) {
		out, err := runCmd(30*time.Second, cliEnv, bin, args...)
		if err != nil {
			return nil, fmt.Errorf("trellis CLI: %w", err)
		}
		var v map[string]any
		if strings.TrimSpace(out) != "" {
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				return nil, fmt.Errorf("trellis %s: answer is not JSON: %v: %q", strings.Join(args, " "), err, out)
			}
		}
		return v, nil
	}
	_, backendPort, _ := strings.Cut(e.backend, ":")
	lp := strconv.Itoa(lport)
	steps := [][]string{
		{"service-network", "create", "--name", "bench-net"},
		{"service", "create", "--name", "bench-svc"},
		{"target-group", "create", "--name", "bench-tg", "--type", "IP", "--protocol", "HTTP", "--port", backendPort, "--vpc", trellisVPC},
		{"target-group", "register-targets", "--target-group", "bench-tg", "--target", e.backend},
		{"listener", "create", "--service", "bench-svc", "--name", "web", "--protocol", "HTTP", "--port", lp, "--default-forward", "bench-tg=100"},
		{"service-network-service-association", "create", "--service-network", "bench-net", "--service", "bench-svc"},
		{"service-network-vpc-association", "create", "--service-network", "bench-net", "--vpc", trellisVPC},
	}
	for _, s := range steps {
		if _, err := cli(s...); err != nil {
			return nil, err
		}
	}
	vpc, err := cli("vpc", "get", trellisVPC)
	if err != nil {
		return nil, err
	}
	ingress, _ := vpc["ingressAddress"].(string)
	if ingress == "" {
		return nil, fmt.Errorf("trellis vpc get %s: no ingressAddress in %v", trellisVPC, vpc)
	}
	svc, err := cli("service", "get", "bench-svc")
	if err != nil {
		return nil, err
	}
	dns, _ := svc["dnsEntry"].(map[string]any)
	host, _ := dns["domainName"].(string)
	if host == "" {
		return nil, fmt.Errorf("trellis service get bench-svc: no dnsEntry.domainName in %v", svc)
	}
	e.host = host
	addr := ingress + ":" + lp
	if err := waitTCP(p, addr, 10*time.Second); err != nil {
		return nil, fmt.Errorf("trellis ingress: %w", err)
	}
	return &Target{Name: "trellis", Addr: addr, H2CAddr: addr, Host: host, StrictHost: true,
		H2CNote: "the ingress serves HTTP/1.1 and h2c on the same socket",
		Setup:   "service network, service, HTTP listener, IP target group (health checks on), VPC association; GOMAXPROCS=1"}, nil
}

// startNginx: one worker, no access log, an upstream with a keep-alive pool,
// a name-based server and a default server answering 404. nginx 1.22 serves
// h2c (prior knowledge only) on a listen socket marked http2, so h2c gets a
// second port.
func startNginx(e *env) (*Target, error) {
	bin, err := lookBin("nginx")
	if err != nil {
		return nil, err
	}
	p1, err := freePort()
	if err != nil {
		return nil, err
	}
	p2, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.dir, "nginx")
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o777); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`# generated by bench/harness
worker_processes 1;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    server_names_hash_bucket_size 256;
    keepalive_timeout 65s;
    keepalive_requests 1000000;
    client_body_temp_path %[1]s/tmp/client;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;

    upstream bench_backend {
        server %[2]s;
        keepalive 128;
        keepalive_requests 1000000;
        keepalive_timeout 60s;
    }
    server {
        listen 127.0.0.1:%[3]d default_server;
        listen 127.0.0.1:%[4]d http2 default_server;
        server_name _;
        return 404 "no such host\n";
    }
    server {
        listen 127.0.0.1:%[3]d;
        listen 127.0.0.1:%[4]d http2;
        server_name %[5]s;
        location / {
            proxy_pass http://bench_backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
        }
    }
}
`, dir, e.backend, p1, p2, e.host)
	cfg := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if _, err := runCmd(20*time.Second, nil, bin, "-t", "-q", "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", cfg); err != nil {
		return nil, fmt.Errorf("nginx config: %w", err)
	}
	p, err := startProc("nginx", e.cpuProxy, filepath.Join(e.dir, "nginx.log"), nil,
		bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", cfg)
	if err != nil {
		return nil, err
	}
	a1, a2 := "127.0.0.1:"+strconv.Itoa(p1), "127.0.0.1:"+strconv.Itoa(p2)
	for _, a := range []string{a1, a2} {
		if err := waitTCP(p, a, 10*time.Second); err != nil {
			return nil, err
		}
	}
	return &Target{Name: "nginx", Addr: a1, H2CAddr: a2, Host: e.host,
		H2CNote: "`listen ... http2` on a cleartext socket (prior knowledge only), so a second port",
		Setup:   "worker_processes 1, access_log off, upstream keepalive 128, server_name, keepalive_requests 1000000"}, nil
}

// startHAProxy: one thread, keep-alive on both sides, a host-based
// use_backend and a 404 for anything else, no logging. h2c on a second bind
// with proto h2.
func startHAProxy(e *env) (*Target, error) {
	bin, err := lookBin("haproxy")
	if err != nil {
		return nil, err
	}
	p1, err := freePort()
	if err != nil {
		return nil, err
	}
	p2, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.dir, "haproxy")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`# generated by bench/harness
global
    nbthread 1
    maxconn 4096
    pidfile %[1]s/haproxy.pid

defaults
    mode http
    option http-keep-alive
    http-reuse safe
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s

frontend bench
    bind 127.0.0.1:%[2]d
    bind 127.0.0.1:%[3]d proto h2
    acl bench_host req.hdr(host),field(1,:) -i %[4]s
    use_backend bench_backend if bench_host
    default_backend no_such_host

backend bench_backend
    server backend %[5]s

backend no_such_host
    http-request return status 404 content-type text/plain string "no such host"
`, dir, p1, p2, e.host, e.backend)
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	if _, err := runCmd(20*time.Second, nil, bin, "-c", "-q", "-f", cfg); err != nil {
		return nil, fmt.Errorf("haproxy config: %w", err)
	}
	p, err := startProc("haproxy", e.cpuProxy, filepath.Join(e.dir, "haproxy.log"), nil, bin, "-db", "-f", cfg)
	if err != nil {
		return nil, err
	}
	a1, a2 := "127.0.0.1:"+strconv.Itoa(p1), "127.0.0.1:"+strconv.Itoa(p2)
	for _, a := range []string{a1, a2} {
		if err := waitTCP(p, a, 10*time.Second); err != nil {
			return nil, err
		}
	}
	return &Target{Name: "haproxy", Addr: a1, H2CAddr: a2, Host: e.host,
		H2CNote: "a second bind with `proto h2`",
		Setup:   "nbthread 1, option http-keep-alive, http-reuse safe, use_backend on Host, no log"}, nil
}

// startCaddy: JSON config, GOMAXPROCS=1, admin endpoint off, no access log,
// protocols h1 and h2c on one socket, reverse_proxy with a keep-alive pool
// for the host, a 404 for anything else.
func startCaddy(e *env) (*Target, error) {
	bin, err := lookBin("caddy")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.dir, "caddy")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cfg := map[string]any{
		"admin": map[string]any{"disabled": true, "config": map[string]any{"persist": false}},
		"logging": map[string]any{"logs": map[string]any{"default": map[string]any{
			"level": "WARN", "writer": map[string]any{"output": "stderr"}}}},
		"apps": map[string]any{"http": map[string]any{"servers": map[string]any{"bench": map[string]any{
			"listen":          []string{addr},
			"protocols":       []string{"h1", "h2c"},
			"automatic_https": map[string]any{"disable": true},
			"routes": []any{
				map[string]any{
					"match": []any{map[string]any{"host": []string{e.host}}},
					"handle": []any{map[string]any{
						"handler":   "reverse_proxy",
						"upstreams": []any{map[string]any{"dial": e.backend}},
						"transport": map[string]any{"protocol": "http",
							"keep_alive": map[string]any{"enabled": true, "max_idle_conns_per_host": 128}},
					}},
					"terminal": true,
				},
				map[string]any{"handle": []any{map[string]any{
					"handler": "static_response", "status_code": 404, "body": "no such host\n"}}},
			},
		}}}},
	}
	b, _ := json.MarshalIndent(cfg, "", "  ")
	path := filepath.Join(dir, "caddy.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return nil, err
	}
	cenv := []string{"GOMAXPROCS=1", "HOME=" + dir, "XDG_DATA_HOME=" + filepath.Join(dir, "data"), "XDG_CONFIG_HOME=" + filepath.Join(dir, "config")}
	if _, err := runCmd(20*time.Second, cenv, bin, "validate", "--config", path); err != nil {
		return nil, fmt.Errorf("caddy config: %w", err)
	}
	p, err := startProc("caddy", e.cpuProxy, filepath.Join(e.dir, "caddy.log"), cenv, bin, "run", "--config", path)
	if err != nil {
		return nil, err
	}
	if err := waitTCP(p, addr, 15*time.Second); err != nil {
		return nil, err
	}
	return &Target{Name: "caddy", Addr: addr, H2CAddr: addr, Host: e.host,
		H2CNote: "`protocols h1 h2c` on one socket",
		Setup:   "GOMAXPROCS=1, JSON config, reverse_proxy keep_alive (128 idle per host), host matcher, no access log, admin off"}, nil
}
