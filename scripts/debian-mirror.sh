#!/usr/bin/env bash
# Prints the machine's Debian mirror and its security mirror, one per line, as its apt sources name them
# (one-line or deb822 format): DEBIAN_MIRROR and DEBIAN_SECURITY_MIRROR override them. Without a security source
# of its own, the security archive is taken beside the main one. No mirror's host name is ever chosen here:
# a machine whose sources name no Debian archive must be told one (a clear message, and exit 1).
# Usage: read -r mirror security < <(bash scripts/debian-mirror.sh | paste -sd' ')
set -euo pipefail
archive() {
  local want=$1 # debian or debian-security
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -oE '(https?|file)://[^ ]+' | sed 's,/*$,,' | grep -E "/$want\$" | head -1 || true
}
mirror=${DEBIAN_MIRROR:-$(archive debian)}
if [ -z "$mirror" ]; then
  echo "no Debian archive in this machine's apt sources: set DEBIAN_MIRROR (and DEBIAN_SECURITY_MIRROR) to the mirror to use" >&2
  exit 1
fi
security=${DEBIAN_SECURITY_MIRROR:-$(archive debian-security)}
security=${security:-${mirror%/debian}/debian-security}
printf '%s\n%s\n' "$mirror" "$security"
