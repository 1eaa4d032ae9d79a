#!/usr/bin/env bash
# Installs Node.js 24 LTS when the machine has no Node.js or an older one (Debian 12 and Ubuntu 24.04 ship 18):
# the official binary as the npm registry publishes it (package node-linux-<arch>) and npm's own package,
# unpacked under /opt/spin-docker-node/<version> and linked into /usr/local/bin. Only the npm registry is needed
# (SD_NPM_REGISTRY names a mirror). Idempotent; run as root.
set -euo pipefail

NODE_VERSION=${SD_NODE_VERSION:-24.21.0}
NPM_VERSION=${SD_NPM_VERSION:-11.21.2}
REGISTRY=${SD_NPM_REGISTRY:-https://registry.npmjs.org}
NEED_MAJOR=${NODE_VERSION%%.*}

current_major() {
  command -v node >/dev/null 2>&1 || { echo 0; return; }
  node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

if [ "$(current_major)" -ge "$NEED_MAJOR" ]; then
  exit 0
fi

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "no Node.js $NODE_VERSION build for $(uname -m)" >&2; exit 1 ;;
esac

if ! command -v curl >/dev/null 2>&1 || [ ! -f /etc/ssl/certs/ca-certificates.crt ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends curl ca-certificates
fi

prefix=/opt/spin-docker-node/$NODE_VERSION
if [ ! -x "$prefix/bin/node" ] || [ ! -f "$prefix/lib/node_modules/npm/package.json" ]; then
  echo "==> installing Node.js $NODE_VERSION and npm $NPM_VERSION from $REGISTRY"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  curl -fsSL --retry 3 -o "$work/node.tgz" "$REGISTRY/node-linux-$arch/-/node-linux-$arch-$NODE_VERSION.tgz"
  curl -fsSL --retry 3 -o "$work/npm.tgz" "$REGISTRY/npm/-/npm-$NPM_VERSION.tgz"
  rm -rf "$prefix.partial"
  mkdir -p "$prefix.partial/lib/node_modules/npm"
  tar -xzf "$work/node.tgz" -C "$prefix.partial" --strip-components=1
  tar -xzf "$work/npm.tgz" -C "$prefix.partial/lib/node_modules/npm" --strip-components=1
  chmod 0755 "$prefix.partial/bin/node"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$prefix.partial/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$prefix.partial/bin/npx"
  rm -rf "$prefix"
  mv "$prefix.partial" "$prefix"
fi
for tool in node npm npx; do
  ln -sfn "$prefix/bin/$tool" "/usr/local/bin/$tool"
done
hash -r
if [ "$(/usr/local/bin/node -p 'process.versions.node.split(".")[0]')" -lt "$NEED_MAJOR" ]; then
  echo "Node.js $NODE_VERSION did not install" >&2
  exit 1
fi
case "$(command -v node)" in
  /usr/local/bin/node) ;;
  *) echo "warning: $(command -v node) comes before /usr/local/bin/node in PATH; put /usr/local/bin first" >&2 ;;
esac
echo "==> Node.js $(/usr/local/bin/node --version), npm $(/usr/local/bin/npm --version)"
