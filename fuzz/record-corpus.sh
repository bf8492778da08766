#!/usr/bin/env bash
# Records the seed corpus: PyTorch 2.10's own TCPStore client (native/shim) talks to our server
# through a recording proxy, which saves each connection's client-to-server bytes to
# fuzz/corpus/pytorch/<session>-NN.bin. Run from anywhere after `dotnet build TcpStore.sln -c Release`.
# TORCH113_ONLY=1 instead records PyTorch 1.13's client (see record113 below) into fuzz/corpus/torch113.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shim="${TCPSTORE_SHIM:-$root/native/shim/build/tcpstore-shim}"
server_dll="$root/src/Cli/bin/Release/net10.0/tcpstore.dll"
fuzz_dll="$root/fuzz/bin/Release/net10.0/TcpStore.Fuzz.dll"
out="$root/fuzz/corpus/pytorch"
work="$(mktemp -d)"
mkdir -p "$out"

hex() { if [ -z "$1" ]; then printf -- '-'; else printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; fi; }

dotnet "$server_dll" serve --host 127.0.0.1 --port 0 --log-level Warning >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q listening "$work/server.out" 2>/dev/null && break; sleep 0.1; done
server_port=$(grep -oE '[0-9]+$' "$work/server.out")

# The pre-2.2 client: PyTorch 1.13 (Debian's python3-torch, in the system Python) into
# fuzz/corpus/torch113. Each 1.13 store object opens a second, silent callback connection; its
# empty recording is dropped.
python113="${TCPSTORE_TORCH113_PYTHON:-/usr/bin/python3}"
record113() { # record113 NAME < python (PORT is the proxy's port)
  local name=$1
  local fifo="$work/$name.stdin"; mkfifo "$fifo"
  dotnet "$fuzz_dll" record "$server_port" "$root/fuzz/corpus/torch113" "$name" <"$fifo" >"$work/$name.proxy" &
  local proxy_pid=$!
  exec 9>"$fifo"
  for _ in $(seq 100); do grep -q listening "$work/$name.proxy" 2>/dev/null && break; sleep 0.1; done
  local port; port=$(grep -oE '[0-9]+$' "$work/$name.proxy")
  PORT=$port OMP_NUM_THREADS=1 "$python113" - >"$work/$name.replies" 2>&1 || { echo "$name: python failed"; cat "$work/$name.replies"; }
  sleep 0.3
  exec 9>&-
  wait $proxy_pid
  find "$root/fuzz/corpus/torch113" -name "$name-*.bin" -empty -delete
  echo "$name: $(grep -c '^ok' "$work/$name.replies") ok"
}

record() { # record NAME [client options] < commands
  local name=$1; shift
  local fifo="$work/$name.stdin"; mkfifo "$fifo"
  dotnet "$fuzz_dll" record "$server_port" "$out" "$name" <"$fifo" >"$work/$name.proxy" &
  local proxy_pid=$!
  exec 9>"$fifo"
  for _ in $(seq 100); do grep -q listening "$work/$name.proxy" 2>/dev/null && break; sleep 0.1; done
  local port; port=$(grep -oE '[0-9]+$' "$work/$name.proxy")
  "$shim" client --host 127.0.0.1 --port "$port" --timeout-ms 3000 "$@" >"$work/$name.replies" 2>/dev/null || true
  sleep 0.3
  exec 9>&-
  wait $proxy_pid
  echo "$name: $(grep -c '^ok' "$work/$name.replies") ok, $(grep -c '^err' "$work/$name.replies" || true) err"
}

if [ "${TORCH113_ONLY:-0}" = 1 ]; then
  mkdir -p "$root/fuzz/corpus/torch113"
  record113 api <<'PY'
import datetime, os, torch.distributed as dist
s = dist.TCPStore("127.0.0.1", int(os.environ["PORT"]), 1, False, timeout=datetime.timedelta(seconds=5))
s.set("foo", "bar"); print("ok", s.get("foo"))
print("ok", s.add("cnt", 5), s.add("cnt", -7))
print("ok", s.compare_set("foo", "bar", "baz"), s.compare_set("missing", "x", "y"), s.compare_set("new", "", "created"))
s.wait(["foo", "new"]); s.wait(["foo"], datetime.timedelta(seconds=1))
try:
    s.wait(["never"], datetime.timedelta(milliseconds=200))
except RuntimeError:
    print("ok timeout")
print("ok", s.num_keys(), s.delete_key("foo"), s.delete_key("foo"))
s.set("", "emptykey"); print("ok", s.get(""))
s.set("big", "x" * 3000); print("ok", len(s.get("big")))
PY
  record113 gloo <<'PY'
import datetime, os, torch, torch.distributed as dist
s = dist.TCPStore("127.0.0.1", int(os.environ["PORT"]), 1, False, timeout=datetime.timedelta(seconds=10))
dist.init_process_group("gloo", store=s, rank=0, world_size=1)
t = torch.ones(2); dist.all_reduce(t); dist.barrier(); print("ok", t.tolist())
PY
  ls -l "$root/fuzz/corpus/torch113"
  exit 0
fi

record basic <<CMDS
set $(hex foo) $(hex bar)
get $(hex foo)
add $(hex cnt) 5
add $(hex cnt) -7
cas $(hex foo) $(hex bar) $(hex baz)
cas $(hex missing) $(hex nonempty) $(hex x)
cas $(hex newkey) - $(hex created)
check $(hex foo) $(hex newkey)
check $(hex foo) $(hex zzz)
check
append $(hex foo) $(hex 123)
del $(hex foo)
del $(hex foo)
numkeys
listkeys
ping
set - $(hex emptykey)
get -
quit
CMDS

record waits <<CMDS
wait 200 $(hex never)
set $(hex ready) $(hex 1)
wait 1000 $(hex ready)
wait 0 $(hex ready)
get $(hex ready)
wait 100 $(hex a) $(hex b) $(hex a)
quit
CMDS

record multi <<CMDS
mset $(hex m1) $(hex v1) $(hex m2) - $(hex m3) $(hex v3)
mget $(hex m1) $(hex m2) $(hex m3)
mset
check $(hex m1) $(hex m2) $(hex m3)
quit
CMDS

record queues <<CMDS
qpush $(hex q) $(hex a1)
qpush $(hex q) $(hex a2)
qlen $(hex q)
qpop $(hex q) 1
qpop $(hex q) 0
qpop $(hex q) 0
qlen $(hex q)
quit
CMDS

record rendezvous --world-size 1 <<CMDS
set $(hex default_pg/0//cpu//0) $(hex 0a1b2c3d)
add $(hex default_pg/0//cpu//0/num_members) 1
get $(hex default_pg/0//cpu//0)
quit
CMDS

big=$(head -c 3000 /dev/zero | tr '\0' 'x')
record large <<CMDS
set $(hex big) $(hex "$big")
append $(hex big) $(hex "$big")
get $(hex big)
quit
CMDS

ls -l "$out"
