#!/usr/bin/env bash
# The README's first command: installs what is missing, builds the server and the image kit, and runs
# spin-docker on :8080 (API + worker + a private Redis with its data in ./data) until Ctrl-C.
# Settings come from the environment (see README, "Configuration").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
echo "==> npm run build"
npm run build --silent
# The CLI on the PATH: spin-docker ps, logs -f, … (it talks to the server at SD_URL, http://localhost:8080).
ln -sf "$PWD/dist/cli/spin-docker.js" /usr/local/bin/spin-docker
echo "==> building the images (images/: demo, base, postgres, django, redis; a few minutes the first time)"
bash images/build.sh demo
# The rest of the kit needs Debian's mirror; a failure there is reported, and the server starts anyway.
bash images/build.sh base postgres django redis mongo || echo "==> some images of the kit did not build (see above); the server starts without them" >&2
echo "==> starting spin-docker on :${SD_PORT:-8080} (Ctrl-C stops it)"
exec node dist/cli/start.js
