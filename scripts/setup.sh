#!/usr/bin/env bash
# Installs everything scaiprobe and its lab need on Debian: the real servers
# (Dovecot, PowerDNS, rbldnsd, Redis), Chromium for reports and the browser
# probe, the DNS tools the benchmarks compare against, Prometheus and
# Alertmanager for the tests of /metrics, the shipped rules and the
# alertmanager channel, Perl's TAP::Parser (the tests read `check --format tap`
# with it), and the npm dependencies.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  dovecot-imapd pdns-server pdns-backend-sqlite3 rbldnsd redis-server sqlite3
  chromium knot-dnsutils dnsperf swaks hyperfine poppler-utils openssl
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

echo "setup: installing npm dependencies"
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi
mkdir -p data
echo "setup: done"
