# Shown at every login: when spin-docker stops this container whatever its activity (sd-report keeps it).
if [ -r /run/spin-docker/stop-at ]; then
  sd_stop_at=$(date -d "$(cat /run/spin-docker/stop-at)" '+%H:%M %Z' 2>/dev/null)
  [ -n "$sd_stop_at" ] && printf 'this container stops at %s (extend: spin-docker extend %s 1h, or Extend in the dashboard)\n' "$sd_stop_at" "$(hostname)"
  unset sd_stop_at
fi
