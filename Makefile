# Side-by-side benchmark of Trellis against nginx, HAProxy and Caddy (see
# docs/benchmarks.md). bench/install.sh installs the tools when missing.
#
#   make bench            full run, about 40 minutes (with the protocols suite
#                         and the Lambda phase);
#                         rewrites docs/benchmarks.md's generated block
#   make bench-quick      about 3 minutes; fails only when a target is broken
#   make bench-protocols  only the protocols suite (HTTPS, new TLS handshakes,
#                         h2 over TLS, h2c, gRPC, WebSocket), 5-10 minutes;
#                         results in bench/results/protocols.json
#   make bench-lambda     only the Lambda phase (a function hosted by Trellis
#                         against its runtime driven directly), 3-5 minutes;
#                         results in bench/results/lambda.json
#
# Extra harness flags: make bench BENCH_FLAGS="-rounds 3 -keep"
#
#   make console          rebuilds the web console (web/console, npm) into
#                         internal/console/dist, which is committed: go build
#                         needs no npm (docs/console.md)

GO ?= go
BENCH_FLAGS ?=

.PHONY: bench bench-quick bench-protocols bench-lambda bench-tools console

console:
	npm ci --prefix web/console && npm run --prefix web/console build

bench-tools:
	bash bench/install.sh

bench: bench-tools
	$(GO) run ./bench/harness -mode full $(BENCH_FLAGS)

bench-quick: bench-tools
	$(GO) run ./bench/harness -mode quick $(BENCH_FLAGS)

bench-protocols: bench-tools
	$(GO) run ./bench/harness -mode full -protocols-only $(BENCH_FLAGS)

bench-lambda: bench-tools
	$(GO) run ./bench/harness -mode full -lambda-only $(BENCH_FLAGS)
