#!/usr/bin/env bash
# Installs the tools the side-by-side benchmark needs, when they are missing:
# nginx, haproxy, caddy, wrk and h2load (nghttp2-client), from Debian's
# repositories. The packages' own services are kept from starting (they would
# bind port 80 of the host); if one was started anyway, it is stopped and
# disabled. The benchmark runs its own copies on loopback high ports.
#
#   bench/install.sh              what the side-by-side benchmark needs
#   bench/install.sh PKG...       these Debian packages instead (the other
#                                 benchmarks' installers pass what they miss)
set -euo pipefail

need=()
if [ $# -gt 0 ]; then
  need=("$@")
else
  command -v nginx   >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]   || need+=(nginx)
  command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
  command -v caddy   >/dev/null 2>&1 || need+=(caddy)
  command -v wrk     >/dev/null 2>&1 || need+=(wrk)
  command -v h2load  >/dev/null 2>&1 || need+=(nghttp2-client)
  command -v taskset >/dev/null 2>&1 || need+=(util-linux)
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "bench/install.sh: missing ${need[*]}; run as root or install them" >&2
  exit 1
fi

echo "bench: installing ${need[*]}" >&2
# policy-rc.d answering 101 tells the maintainer scripts not to start services.
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

# Whatever the packages started, stop it and keep it from starting at boot.
for svc in nginx haproxy caddy dnsmasq; do
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  else
    if command -v service >/dev/null 2>&1; then service "$svc" stop >/dev/null 2>&1 || true; fi
    if command -v update-rc.d >/dev/null 2>&1; then update-rc.d "$svc" disable >/dev/null 2>&1 || true; fi
  fi
done
