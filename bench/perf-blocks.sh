#!/bin/bash
# Where in a JIT-compiled method the server's CPU goes, by code block: starts `tcpstore serve` pinned to
# CPU 0 with perf maps and the JIT's disassembly of the named methods on, drives one `bench load` row at
# it, samples it with `perf record -e cpu-clock`, and prints the share of all samples per binary, the top
# symbols, and for each named method the share of each of its blocks (G_M..._IGnn, whose code the
# disassembly in $OUT/disasm.txt shows). A sample lands on the instruction after the one that waited, so
# a block just after a load that misses the cache carries that miss.
# Usage (repo root, after `dotnet build -c Release src/Cli bench`):
#   bench/perf-blocks.sh [ROW] ["Method ..."]        default: set:16:16 "Process Execute"
set -eu
ROW=${1:-set:16:16}; METHODS=${2:-Process Execute}; PORT=${PORT:-29556}; OUT=${OUT:-$(mktemp -d)}
SERVER=src/Cli/bin/Release/net10.0/tcpstore; BENCH=bench/bin/Release/net10.0/TcpStore.Bench.dll
DOTNET_PerfMapEnabled=3 DOTNET_EnableWriteXorExecute=0 DOTNET_JitDisasm="$METHODS" DOTNET_JitStdOutFile="$OUT/disasm.txt" \
  taskset -c 0 "$SERVER" serve --port "$PORT" --host 127.0.0.1 --log-level Warning > "$OUT/server.txt" 2>&1 &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null || true' EXIT
sleep 2
dotnet "$BENCH" load --target "127.0.0.1:$PORT" --workloads "$ROW" --rounds 1 --seconds 7 --warmup 3 > "$OUT/load.txt" 2>&1 &
LOAD_PID=$!
sleep 6  # past the warm-up, so the methods are at their final tier
perf record -e cpu-clock -F 10000 -p "$SERVER_PID" -o "$OUT/perf.data" -- sleep 3 > /dev/null 2>&1
wait "$LOAD_PID"; grep "round 1" "$OUT/load.txt" || true
kill "$SERVER_PID"; sleep 0.5
perf report -i "$OUT/perf.data" --sort dso --stdio 2>/dev/null | grep % | head -5
perf report -i "$OUT/perf.data" --sort sym --stdio 2>/dev/null | grep % | grep -v "\[k\]" | head -12 | cut -c1-150
perf script -i "$OUT/perf.data" -F ip 2>/dev/null > "$OUT/ips.txt"
python3 - "$SERVER_PID" "$METHODS" "$OUT" <<'PY'
import bisect, re, sys
from collections import Counter
pid, methods, out = sys.argv[1], sys.argv[2].split(), sys.argv[3]
ips = [int(line, 16) for line in open(f"{out}/ips.txt") if line.strip()]
entries = [line.split(" ", 2) for line in open(f"/tmp/perf-{pid}.map")]
listing = open(f"{out}/disasm.txt").read().split("\n")
for method in methods:
    # The last optimized body the perf map lists is the one that ran in the measured phase.
    compiled = [e for e in entries if f"::{method}(" in e[2] and ("OptimizedTier1" in e[2] or e[2].rstrip().endswith("[Optimized]"))]
    if not compiled:
        print(f"== {method}: no optimized code in the perf map"); continue
    start, size = int(compiled[-1][0], 16), int(compiled[-1][1], 16)
    offsets = [ip - start for ip in ips if start <= ip < start + size]
    print(f"== {method}: {100 * len(offsets) / len(ips):.1f} % of all samples")
    heads = [i for i, line in enumerate(listing) if f":{method}(" in line and "Assembly listing" in line and ("(Tier1)" in line or "(FullOpts)" in line)]
    if not heads:
        continue
    blocks = []
    for line in listing[heads[-1]:]:
        m = re.match(r"(G_M\d+_IG\d+):\s+;; offset=0x([0-9A-F]+)", line)
        if m:
            blocks.append((int(m.group(2), 16), m.group(1)))
        if line.startswith("; Total bytes of code"):
            break
    starts = [b[0] for b in blocks]
    shares = Counter(blocks[bisect.bisect_right(starts, o) - 1][1] for o in offsets)
    print("   " + "  ".join(f"{name.split('_')[-1]} {100 * n / len(ips):.1f}%" for name, n in shares.most_common(12)))
PY
echo "disassembly: $OUT/disasm.txt"
