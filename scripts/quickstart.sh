#!/usr/bin/env bash
# The README's first command: installs what is missing, builds the server and the demo image, and runs
# spin-docker on :8080 (API + worker + a private Redis with its data in ./data) until Ctrl-C.
# Settings come from the environment (see README, "Configuration").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
echo "==> npm run build"
npm run build --silent
echo "==> building the demo image"
bash images/build.sh demo
echo "==> starting spin-docker on :${SD_PORT:-8080} (Ctrl-C stops it)"
exec node dist/cli/start.js
