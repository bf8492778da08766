#!/bin/bash
# Server CPU time per request, split into user and kernel (sys) time, for our server and PyTorch's
# libuv server side by side: each pinned to CPU 0, stload pinned to CPU 1, alternating rounds.
# The utime/stime deltas of the server process (/proc/PID/stat) over a timed stload run, divided by
# the requests it completed. `bench load` now prints the same per row (and GCs, and syscalls with --syscalls).
# Usage (repo root, after `dotnet build -c Release src/Cli` and building stload):
#   STLOAD=/path/to/stload bench/cpu-per-op.sh [rounds] ["op conns depth" ...]
set -u
SRV=${SRV:-src/Cli/bin/Release/net10.0/tcpstore.dll}
SHIM=${SHIM:-native/shim/build/tcpstore-shim}
STLOAD=${STLOAD:-./stload}
ROUNDS=${1:-2}; shift || true
ROWS=("$@"); [ ${#ROWS[@]} -eq 0 ] && ROWS=("get 16 1" "add 256 1" "get 256 16")
OURS=29641; LIBUV=29642
taskset -c 0 dotnet "$SRV" serve --port $OURS --host 127.0.0.1 --log-level Warning >/dev/null 2>&1 &
(sleep 100000 | taskset -c 0 unshare -m bash -c 'printf "hosts: files\n" > /tmp/nss.conf; mount --bind /tmp/nss.conf /etc/nsswitch.conf; exec '"$SHIM"' server --port '$LIBUV' --libuv 1' &) >/dev/null 2>&1
trap 'pkill -f "serve --port $OURS"; pkill -f "server --port $LIBUV"; pkill -f "sleep 100000"' EXIT
sleep 3
pid_of() { if [ "$1" = $OURS ]; then pgrep -f "serve --port $OURS"; else pgrep -f "server --port $LIBUV" | tail -1; fi; }
hz=$(getconf CLK_TCK)
for row in "${ROWS[@]}"; do set -- $row
  for r in $(seq "$ROUNDS"); do for port in $OURS $LIBUV; do
    pid=$(pid_of $port)
    read -r u0 s0 < <(awk '{print $14, $15}' /proc/$pid/stat)
    ops=$(taskset -c 1 "$STLOAD" --port $port --op $1 --conns $2 --depth $3 --seconds 3 --warmup 0 2>&1 | grep -oE "ops_per_s=[0-9]+" | cut -d= -f2)
    read -r u1 s1 < <(awk '{print $14, $15}' /proc/$pid/stat)
    name=$([ $port = $OURS ] && echo ours || echo libuv)
    awk -v n="$name" -v op="$1 $2x$3" -v r="$r" -v ops="$ops" -v du=$((u1-u0)) -v ds=$((s1-s0)) -v hz="$hz" 'BEGIN {
      total = ops * 3; printf "%-14s %-6s round %d: %8d ops/s  user %.2f us/op  sys %.2f us/op\n", op, n, r, ops, du / hz / total * 1e6, ds / hz / total * 1e6 }'
  done; done
done
