# Side-by-side benchmark of Trellis against nginx, HAProxy and Caddy (see
# docs/benchmarks.md). bench/install.sh installs the tools when missing.
#
#   make bench         full run, 10-20 minutes; rewrites docs/benchmarks.md
#   make bench-quick   about a minute; fails only when a target is broken
#
# Extra harness flags: make bench BENCH_FLAGS="-rounds 3 -keep"

GO ?= go
BENCH_FLAGS ?=

.PHONY: bench bench-quick bench-tools

bench-tools:
	bash bench/install.sh

bench: bench-tools
	$(GO) run ./bench/harness -mode full $(BENCH_FLAGS)

bench-quick: bench-tools
	$(GO) run ./bench/harness -mode quick $(BENCH_FLAGS)
