#!/usr/bin/env bash
# Installs what v6kit's tests need, from Debian's packages and the npm registry, only when
# something is missing: a second run does nothing and touches no network.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
check() { # check COMMAND-OR-PATH PACKAGE
  case "$1" in
    /*) [ -e "$1" ] || need+=("$2") ;;
    *) have "$1" || need+=("$2") ;;
  esac
}
check nginx nginx
check redis-server redis-server
check /usr/lib/postgresql/15/bin/initdb postgresql-15
check openssl openssl
check systemd-analyze systemd
check dbus-daemon dbus
check ip iproute2
check tayga tayga
check unbound unbound
check dig dnsutils
check curl curl
check ruby ruby
ruby -rdotenv -e 1 >/dev/null 2>&1 || need+=(ruby-dotenv)
check node nodejs
check npm npm
check runuser util-linux
check sysctl procps
check patch patch
check unshare util-linux
check nft nftables
check squid squid # egress: the proxy bundle is proven with squid itself
check certbot certbot # acme's import is proven with certbot's own code
check pgbouncer pgbouncer # issue 16: the HA engines, proven with the real daemons
check redis-sentinel redis-sentinel
check haproxy haproxy
check keepalived keepalived
check systemd-nspawn systemd-container # issue 13: a real systemd as PID 1 boots the installed host
check mmdebstrap mmdebstrap # … over a Debian 12 rootfs built from Debian's packages
if [ "${1:-}" = "--bench" ]; then
  check lego lego
  check hyperfine hyperfine
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Node's dotenv, as each Mastodon release's streaming server reads .env.production: one
# directory per pinned version (internal/testenv/nodedotenv for 16.6.1, vX.Y.Z/ beside it),
# each pinned by its own package-lock.json; npm ci runs only where node_modules is missing.
for d in internal/testenv/nodedotenv internal/testenv/nodedotenv/v*/; do
  d=${d%/}
  [ -f "$d/package-lock.json" ] || continue
  if [ ! -f "$d/node_modules/dotenv/package.json" ]; then
    echo "deps: installing Node dotenv (pinned in $d/package-lock.json)"
    (cd "$d" && npm ci --no-audit --no-fund --silent)
  fi
done
echo "deps: ok"
