#!/usr/bin/env bash
# Load rows with the admin listener off, then on with the live page open in headless Chromium
# (which polls /api/inspect every second), alternating; the server pinned to CPU 0, the load to CPU 1.
# Prints each round's throughput and the server's CPU time (user+system) over the whole load.
# Usage: bench/admin-overhead.sh [ROWS] [PAIRS]   e.g. bench/admin-overhead.sh "get:16:1 get:1024:16" 2
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-"get:16:1 get:1024:16"}
pairs=${2:-2}
dotnet build -c Release src/Cli >/dev/null
dotnet build -c Release bench >/dev/null
tool=src/Cli/bin/Release/net10.0/tcpstore
port=29731
admin=29732
run() { # $1 = label, rest = extra serve args
  local label=$1; shift
  taskset -c 0 "$tool" serve --host 127.0.0.1 --port $port --log-level Warning "$@" >/dev/null 2>&1 &
  local server=$!
  sleep 1.5
  local browser=""
  if [ "$label" = on ]; then
    profile=$(mktemp -d)
    # The browser stands for the operator's machine: it runs beside the load generator (CPU 1),
    # never on the server's CPU, so what is measured is the server's cost of the admin listener
    # and of answering the page's polls, not Chromium's rendering (niced, so it takes idle time first).
    taskset -c 1 nice -n 19 /usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
      --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
      --remote-debugging-port=0 "http://127.0.0.1:$admin/" >/dev/null 2>&1 &
    browser=$!
    sleep 3
  fi
  local before after
  before=$(awk '{print $14 + $15}' /proc/$server/stat)
  echo "== admin $label"
  dotnet run -c Release --no-build --project bench -- load --target 127.0.0.1:$port --workloads "$rows" --rounds 3 --seconds 3 \
    | grep -E "round" || true
  after=$(awk '{print $14 + $15}' /proc/$server/stat)
  echo "server CPU during the load: $(( (after - before) * 10 )) ms"
  [ -n "$browser" ] && { kill "$browser"; wait "$browser" 2>/dev/null || true; rm -rf "$profile"; }
  kill "$server"; wait "$server" 2>/dev/null || true
}
for _ in $(seq "$pairs"); do
  run off
  run on --admin-port $admin
done
