#!/usr/bin/env bash
# Installs what a fresh Debian 12 / Ubuntu 22.04+ machine lacks to build, run and test spin-docker:
# Node.js 24 (scripts/install-node.sh), Docker Engine, Redis, Debian's static busybox and debootstrap (for the offline images), the
# clients the image kit is used with (psql, ssh, redis-cli), Chromium for the dashboard's browser test, the deployment tools the tests check
# the deployment files with (ansible, ansible-lint, vagrant, docker-compose, debootstrap), a registry for the pull
# tests (docker-registry, started by the tests on loopback only), and the npm packages.
# Then makes sure a Docker engine is running. Idempotent: what is there is left alone. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
dpkg-query -W -f="\${Status}" busybox-static 2>/dev/null | grep -q "ok installed" || need+=(busybox-static)
# The dashboard's browser test drives Debian's Chromium (headless); a font, so that pages render text.
dpkg-query -W -f="\${Status}" fonts-dejavu-core 2>/dev/null | grep -q "ok installed" || need+=(fonts-dejavu-core)
# debootstrap makes the Debian base of the image kit when no registry has debian:bookworm-slim; the clients
# (psql, ssh, redis-cli, curl) are what the tests and a user connect with.
for tool in ansible-playbook:ansible ansible-lint:ansible-lint vagrant:vagrant docker-compose:docker-compose debootstrap:debootstrap \
  docker-registry:docker-registry psql:postgresql-client ssh:openssh-client redis-cli:redis-tools chromium:chromium wrk:wrk curl:curl; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "==> installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
  # The tests start their own registry on loopback; the package's service (all interfaces, :5000) stays off.
  if [[ " ${need[*]} " == *" docker-registry "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now docker-registry >/dev/null 2>&1 || true
  fi
fi

# Node.js 24 LTS, from the npm registry, unless the machine has it (or newer) already.
bash scripts/install-node.sh
hash -r

bash scripts/ensure-docker.sh

# Node.js keeps its own list of certificate authorities; trust the system's too, so that a registry reached
# through a TLS-inspecting proxy whose CA the machine trusts works for npm as it does for apt and curl.
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "==> npm ci"
  # Native addons build against the headers of the Node.js that runs them (not a distribution's older ones).
  npm_config_nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")" npm ci --no-audit --no-fund
fi
