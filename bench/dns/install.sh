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
if [ "$(id -u)" != 0 ]; then
  echo "bench/dns/install.sh: missing ${need[*]}; run as root or install them" >&2
  exit 1
fi
echo "bench/dns: installing ${need[*]}" >&2
own_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  own_policy=1
fi
cleanup() { if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends "${need[@]}" >&2; then
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${need[@]}" >&2
fi
