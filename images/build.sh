#!/usr/bin/env bash
# Builds spin-docker's image kit offline, each images/<name>/ as spin-docker/<name>:latest:
#   demo      FROM scratch + Debian's static busybox (no network at all)
#   base      Debian 12 + OpenSSH (keys only) + tini + sd-init + sd-report: the template for your own
#   postgres  base + PostgreSQL 15          django  base + Django and gunicorn          redis  base + Redis
#   mongo     the official `mongo` image + SSH, built only when that base image is on the engine
# The Debian base is `debian:bookworm-slim` when the engine has it (or can pull it), otherwise a debootstrap'd
# minbase root imported once as spin-docker/debian:bookworm. `RUN apt-get` inside the builds uses the host's
# Debian mirror (or DEBIAN_MIRROR / DEBIAN_SECURITY_MIRROR) and the host's proxy settings.
#
# Usage: images/build.sh [--rebuild-base] [name...]    (no name: all of them)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rebuild_base=false
names=()
for arg in "$@"; do
  case "$arg" in
    --rebuild-base) rebuild_base=true ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build.sh: unknown option $arg" >&2; exit 2 ;;
    *) [ -f "$here/$arg/Dockerfile" ] || { echo "build.sh: no image named $arg under images/" >&2; exit 2; }
       names+=("$arg") ;;
  esac
done
[ ${#names[@]} -gt 0 ] || names=(demo base postgres django redis mongo)
wanted() { local n; for n in "${names[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }
# The images that build FROM spin-docker/base need it first.
for n in postgres django redis; do wanted "$n" && ! wanted base && ! docker image inspect spin-docker/base:latest >/dev/null 2>&1 && names=(base "${names[@]}"); done

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }
# Quiet on success (the legacy builder's deprecation notice included); the whole output on failure.
build() { # build <name> [docker build options...]
  local name=$1; shift
  local started=$SECONDS output
  log "building spin-docker/$name"
  if ! output=$(docker build -t "spin-docker/$name:latest" "$@" "$here/$name" 2>&1); then
    printf '%s\n' "$output" | tail -40 >&2
    log "spin-docker/$name FAILED" >&2
    return 1
  fi
  log "built spin-docker/$name in $((SECONDS - started)) s"
}

# --- the host's Debian mirror and proxies -----------------------------------------------------------
# The host's own Debian mirror, from its apt sources (scripts/debian-mirror.sh; DEBIAN_MIRROR overrides it).
# Only what needs Debian's packages needs it: the demo image builds without.
mirrors() {
  local both
  both=$(bash "$here/../scripts/debian-mirror.sh") || exit 1
  mirror=${both%%$'\n'*}
  security=${both#*$'\n'}
}
mirror='' security=''
for name in "${names[@]}"; do [ "$name" = demo ] || { mirrors; break; }; done
apt_args=(--build-arg "DEBIAN_MIRROR=$mirror" --build-arg "DEBIAN_SECURITY_MIRROR=$security")
# Proxies: the environment's, else apt's own (Acquire::http::Proxy). Docker passes these build args to RUN
# without storing them in the image.
http_proxy=${http_proxy:-${HTTP_PROXY:-$(apt-config dump 2>/dev/null | sed -n 's/^Acquire::http::Proxy "\(.*\)";$/\1/p' | head -1)}}
https_proxy=${https_proxy:-${HTTPS_PROXY:-$(apt-config dump 2>/dev/null | sed -n 's/^Acquire::https::Proxy "\(.*\)";$/\1/p' | head -1)}}
for var in http_proxy https_proxy no_proxy; do
  [ -n "${!var:-}" ] && apt_args+=(--build-arg "$var=${!var}")
done

# --- the Debian 12 base -------------------------------------------------------------------------------
debian_base() {
  if ! $rebuild_base; then
    if docker image inspect debian:bookworm-slim >/dev/null 2>&1; then echo debian:bookworm-slim; return; fi
    if docker image inspect spin-docker/debian:bookworm >/dev/null 2>&1; then echo spin-docker/debian:bookworm; return; fi
    # A pull that cannot reach a registry fails within seconds; give it 60 at most.
    if timeout 60 docker pull -q debian:bookworm-slim >/dev/null 2>&1; then echo debian:bookworm-slim; return; fi
  fi
  command -v debootstrap >/dev/null || { echo "build.sh: no debian:bookworm-slim and no debootstrap: apt-get install -y debootstrap" >&2; return 1; }
  local root started=$SECONDS
  root=$(mktemp -d /tmp/spin-docker-debian.XXXXXX)
  log "no debian:bookworm-slim: debootstrap bookworm (minbase) from $mirror into $root" >&2
  if ! http_proxy=$http_proxy https_proxy=$https_proxy debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1; then
    tail -20 "$root.log" >&2; rm -rf "$root"; return 1
  fi
  # What the official slim image does: no docs, no apt lists, no apt cache, the sources of this mirror.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/var/log/*.log "$root"/dev/*
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' \
    "$mirror" "$mirror" "$security" >"$root/etc/apt/sources.list"
  : >"$root/etc/machine-id"
  tar -C "$root" -c . | docker import --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' - spin-docker/debian:bookworm >/dev/null
  rm -rf "$root" "$root.log"
  log "imported spin-docker/debian:bookworm in $((SECONDS - started)) s" >&2
  echo spin-docker/debian:bookworm
}

# --- the kit ------------------------------------------------------------------------------------------
if wanted demo; then
  busybox=${BUSYBOX:-/bin/busybox}
  # Debian's busybox-static package provides a static /bin/busybox with httpd, nc, wget, awk and ip.
  [ -x "$busybox" ] || { echo "build.sh: $busybox is missing: apt-get install -y busybox-static" >&2; exit 1; }
  install -m 0755 "$busybox" "$here/demo/busybox"
  build demo -q
fi
if wanted base; then
  base=$(debian_base)
  build base --build-arg "BASE=$base" "${apt_args[@]}"
fi
# The three services only add packages: build them side by side (the mirror, not the CPU, sets the pace).
pids=()
for name in postgres django redis; do
  wanted "$name" || continue
  build "$name" "${apt_args[@]}" &
  pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
if wanted mongo; then
  if docker image inspect "${MONGO_BASE:-mongo:7}" >/dev/null 2>&1; then
    build mongo --build-arg "BASE=${MONGO_BASE:-mongo:7}" || failed=1
  else
    log "skipping spin-docker/mongo: its base ${MONGO_BASE:-mongo:7} is not on this engine (docker pull mongo:7, or docker load it, then npm run images -- mongo)"
  fi
fi
exit $failed
