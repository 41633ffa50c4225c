#!/usr/bin/env bash
# Installs what the DNS benchmark needs when missing: dnsperf (the load
# generator) and dnsmasq-base (the dnsmasq binary alone: no service, no
# configuration in /etc), from Debian's repositories. A policy-rc.d answering
# 101 keeps any maintainer script from starting a service meanwhile.
set -euo pipefail

need=()
command -v dnsperf >/dev/null 2>&1 || need+=(dnsperf)
command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
command -v taskset >/dev/null 2>&1 || need+=(util-linux)
[ ${#need[@]} -eq 0 ] && exit 0
# The one installer: no service may start meanwhile, and any that did is stopped.
exec bash "$(dirname "$0")/../install.sh" "${need[@]}"
