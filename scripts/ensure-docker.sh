#!/usr/bin/env bash
# Starts the Docker engine if it is not answering: through systemd where it runs, otherwise as a
# background dockerd logging to /var/log/dockerd.log. Waits until `docker info` answers.
set -euo pipefail
docker info >/dev/null 2>&1 && exit 0
echo "==> starting the Docker engine"
if [ -d /run/systemd/system ] && systemctl start docker 2>/dev/null; then
  :
else
  nohup dockerd >/var/log/dockerd.log 2>&1 &
fi
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "the Docker engine did not come up; see /var/log/dockerd.log" >&2
exit 1
