#!/usr/bin/env bash
# Installs Node.js 24 LTS when the machine has no Node.js or an older one (Debian 12 and Ubuntu 24.04 ship 18):
# the official binary as the npm registry publishes it (package node-linux-<arch>) and npm's own package,
# unpacked under /opt/spin-docker-node/<version> and linked into /usr/local/bin, each checked first against the
# integrity (SHA-512) the registry publishes for it. Only the npm registry is needed: the machine's own
# (SD_NPM_REGISTRY, else npm's configuration: `npm config get registry`, or a registry= line of ~/.npmrc or
# /etc/npmrc when there is no npm yet). Idempotent; run as root.
set -euo pipefail

NODE_VERSION=${SD_NODE_VERSION:-24.21.0}
NPM_VERSION=${SD_NPM_VERSION:-11.21.2}
# The machine's npm registry; never a host name of our own choosing.
machine_registry() {
  if [ -n "${SD_NPM_REGISTRY:-}" ]; then echo "$SD_NPM_REGISTRY"; return; fi
  if [ -n "${npm_config_registry:-${NPM_CONFIG_REGISTRY:-}}" ]; then echo "${npm_config_registry:-$NPM_CONFIG_REGISTRY}"; return; fi
  if command -v npm >/dev/null 2>&1; then
    local configured
    configured=$(npm config get registry 2>/dev/null || true)
    if [ -n "$configured" ] && [ "$configured" != undefined ]; then echo "$configured"; return; fi
  fi
  local file
  for file in "${HOME:-/root}/.npmrc" /etc/npmrc; do
    [ -f "$file" ] || continue
    sed -n 's/^[[:space:]]*registry[[:space:]]*=[[:space:]]*//p' "$file" | tail -1 | tr -d '\r'
    return
  done
}
REGISTRY=$(machine_registry)
REGISTRY=${REGISTRY%/}
NEED_MAJOR=${NODE_VERSION%%.*}

current_major() {
  command -v node >/dev/null 2>&1 || { echo 0; return; }
  node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

if [ "$(current_major)" -ge "$NEED_MAJOR" ]; then
  exit 0
fi
if [ -z "$REGISTRY" ]; then
  echo "no npm registry is known on this machine: set SD_NPM_REGISTRY, or registry=<url> in ~/.npmrc" >&2
  exit 1
fi

case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "no Node.js $NODE_VERSION build for $(uname -m)" >&2; exit 1 ;;
esac

if ! command -v curl >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1 || [ ! -f /etc/ssl/certs/ca-certificates.crt ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends curl ca-certificates openssl
fi

# Downloads a package's tarball and checks it against the integrity the registry publishes for that version
# (its "dist.integrity", sha512-<base64>); a mismatch stops the install before anything is unpacked.
fetch_checked() {
  local package=$1 version=$2 out=$3 published actual
  published=$(curl -fsSL --retry 3 "$REGISTRY/$package/$version" | grep -o '"integrity" *: *"sha512-[A-Za-z0-9+/=]*"' | head -1 | sed 's/.*"\(sha512-[^"]*\)"/\1/')
  if [ -z "$published" ]; then
    echo "$REGISTRY publishes no sha512 integrity for $package $version: not installing it" >&2
    exit 1
  fi
  curl -fsSL --retry 3 -o "$out" "$REGISTRY/$package/-/$package-$version.tgz"
  actual="sha512-$(openssl dgst -sha512 -binary "$out" | base64 -w0)"
  if [ "$actual" != "$published" ]; then
    echo "$package $version from $REGISTRY is not what the registry published (integrity $actual, expected $published): not installing it" >&2
    exit 1
  fi
  echo "    $package $version: integrity checked ($published)"
}

prefix=/opt/spin-docker-node/$NODE_VERSION
if [ ! -x "$prefix/bin/node" ] || [ ! -f "$prefix/lib/node_modules/npm/package.json" ]; then
  echo "==> installing Node.js $NODE_VERSION and npm $NPM_VERSION from $REGISTRY"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  fetch_checked "node-linux-$arch" "$NODE_VERSION" "$work/node.tgz"
  fetch_checked npm "$NPM_VERSION" "$work/npm.tgz"
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
