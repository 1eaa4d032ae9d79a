#!/usr/bin/env bash
# The base of the docker provider's guest, spin-docker/vagrant-base:bookworm: debian:bookworm when the engine
# has it or can pull it, else a minbase root made by debootstrap from Debian's mirror (as the deploy tests make
# theirs on a machine without a registry). Made once; `vagrant destroy` removes it again if this script made it.
set -euo pipefail
tag=spin-docker/vagrant-base:bookworm
docker image inspect "$tag" >/dev/null 2>&1 && exit 0
if docker image inspect debian:bookworm >/dev/null 2>&1 || timeout 60 docker pull -q debian:bookworm >/dev/null 2>&1; then
  docker tag debian:bookworm "$tag"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "no debian:bookworm and no debootstrap (apt-get install debootstrap)" >&2; exit 1; }
# This machine's Debian mirror (its apt sources, or DEBIAN_MIRROR).
{ read -r mirror; read -r security; } < <(bash "$(dirname "$0")/../../scripts/debian-mirror.sh")
[ -n "${mirror:-}" ] || exit 1
root=$(mktemp -d /tmp/spin-docker-vagrant-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "making $tag with debootstrap from $mirror (about a minute)"
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,python3,iproute2,ca-certificates,gnupg bookworm "$root" "$mirror" >"$root.log" 2>&1 \
  || { tail -20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log" "$root/usr/sbin/policy-rc.d"
: >"$root/etc/machine-id"
printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s bookworm-security main\n' "$mirror" "$mirror" "$security" >"$root/etc/apt/sources.list"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
tar -C "$root" -c . | docker import --change 'CMD ["/sbin/init"]' --change 'LABEL io.spin-docker.vagrant-made=true' - "$tag" >/dev/null
