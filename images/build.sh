#!/usr/bin/env bash
# Builds spin-docker's images offline: each images/<name>/Dockerfile gets Debian's static busybox copied
# into its context and is tagged spin-docker/<name>:latest. Extra arguments go to `docker build`.
# Usage: images/build.sh [name] [docker build options...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
busybox=${BUSYBOX:-/bin/busybox}
# Debian's busybox-static package provides a static /bin/busybox with httpd, nc, wget, awk and ip.
[ -x "$busybox" ] || { echo "build.sh: $busybox is missing: apt-get install -y busybox-static" >&2; exit 1; }
names=${1:-}
shift || true
for dir in "$here"/*/; do
  name=$(basename "$dir")
  [ -z "$names" ] || [ "$names" = "$name" ] || continue
  [ -f "$dir/Dockerfile" ] || continue
  install -m 0755 "$busybox" "$dir/busybox"
  echo "building spin-docker/$name"
  # Quiet on success (the legacy builder's deprecation notice included); everything on failure.
  if ! output=$(docker build -q -t "spin-docker/$name:latest" "$@" "$dir" 2>&1); then
    echo "$output" >&2
    exit 1
  fi
done
