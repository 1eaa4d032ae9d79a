#!/usr/bin/env bash
# Makes (once) the Docker image of a fresh Debian 12 host for the provisioning test: a debootstrap'd minbase
# root with systemd as init and python3 for Ansible, imported with `docker import`. The root file system is
# cached as a tarball (SD_TEST_CACHE, default /var/cache/spin-docker-tests), so a second run takes seconds.
# Usage: make-host-image.sh <image tag>
set -euo pipefail
tag=${1:?usage: make-host-image.sh <image tag>}
cache=${SD_TEST_CACHE:-/var/cache/spin-docker-tests}
# This machine's Debian mirror (its apt sources, or DEBIAN_MIRROR).
{ read -r mirror; read -r security; } < <(bash "$(dirname "$0")/../../scripts/debian-mirror.sh")
[ -n "${mirror:-}" ] || exit 1
tarball="$cache/debian12-systemd-rootfs.tar"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "host image $tag is there"
  exit 0
fi
mkdir -p "$cache"
if [ ! -s "$tarball" ]; then
  root=$(mktemp -d "$cache/rootfs.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  echo "debootstrap bookworm (minbase + systemd, python3) from $mirror"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,python3,iproute2,ca-certificates,gnupg \
    bookworm "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  # A host, not a build root: no policy-rc.d, a machine id made at first boot, apt's lists kept empty.
  rm -f "$root/usr/sbin/policy-rc.d"
  : >"$root/etc/machine-id"
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' "$mirror" "$mirror" "$security" >"$root/etc/apt/sources.list"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
  tar -C "$root" -cf "$tarball.partial" . && mv "$tarball.partial" "$tarball"
fi
echo "importing $tarball as $tag"
docker import --change 'CMD ["/sbin/init"]' "$tarball" "$tag" >/dev/null
