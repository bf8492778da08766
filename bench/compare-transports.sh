#!/bin/bash
# Side by side, alternating rounds: our server on the .NET-sockets transport, on the epoll transport,
# and PyTorch's libuv server (files-only name resolution), each pinned to CPU 0, stload on CPU 1.
# Rows: get 16x1, add 256x1, mixed 256x16. Run from the repo root after a Release build;
# STLOAD=path/to/stload (an independent C load generator, not part of this repository).
SRV=${SRV:-src/Server/bin/Release/net10.0/tcpstore.dll}
SHIM=${SHIM:-native/shim/build/tcpstore-shim}
taskset -c 0 dotnet $SRV serve --port 29631 --transport sockets >/dev/null 2>&1 &
taskset -c 0 dotnet $SRV serve --port 29632 --transport epoll >/dev/null 2>&1 &
(sleep 300 | taskset -c 0 unshare -m bash -c 'printf "hosts: files\n" > /tmp/nss.conf; mount --bind /tmp/nss.conf /etc/nsswitch.conf; exec '$SHIM' server --port 29633 --libuv 1' >/dev/null 2>&1 &)
sleep 3
for w in "get 16 1" "add 256 1" "mixed 256 16"; do set -- $w
  for r in 1 2; do for p in 29631 29632 29633; do
    out=$(taskset -c 1 ${STLOAD:-./stload} --port $p --op $1 --conns $2 --depth $3 --seconds 2 --warmup 0.5 2>&1 | grep -oE "ops_per_s=[0-9]+|p99_us=[0-9.]+|errors=[0-9]+" | tr "\n" " ")
    echo "$1 $2x$3 port $p: $out"
  done; done; done
pkill -f "serve --port 2963"; pkill -f "server --port 29633"
