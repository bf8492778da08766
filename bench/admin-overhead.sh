#!/usr/bin/env bash
# The admin listener's cost under load, side by side in one run: `bench load` starts our server
# twice (admin off; admin on with its live page kept open), both pinned to CPU 0, the load on CPU 1,
# the two alternating round by round, medians and the ratio on/off. Viewers (one run each):
#   poll        the load generator fetches what the page fetches (/api/page), every second: the
#               server's own cost, the number the 3 % target is about (the default, and the first run)
#   chromium:1  the real page in headless Chromium beside the load generator
#   chromium:0  the real page in headless Chromium on the server's core
# On this 2-core machine the browser competes with one side or the other; on a deployment it runs
# on the operator's machine, so the Chromium rows measure the sandbox, not the server.
# Usage: bench/admin-overhead.sh [ROWS] [ROUNDS] [VIEWERS]
#   e.g. bench/admin-overhead.sh "get:16:1 get:256:1 get:256:16" 5 "poll chromium:1"
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-"get:16:1 get:256:1 get:256:16"}
rounds=${2:-5}
viewers=${3:-poll}
dotnet build -c Release bench >/dev/null
for viewer in $viewers; do
  echo "== admin page viewer: $viewer; $(uptime)"
  dotnet run -c Release --no-build --project bench -- load --servers ours,ours-admin --admin-viewer "$viewer" \
    --workloads "$rows" --rounds "$rounds" --seconds 3
done
