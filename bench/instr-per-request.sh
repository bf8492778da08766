#!/bin/bash
# Instructions per request on the request path (Session.Process + TakeOutput, no sockets), counted
# by callgrind rather than timed, so it is stable on a shared, noisy machine. Each kind runs at two
# batch counts; the difference of the two totals divided by the difference in requests cancels
# start-up, JIT and set-up. Full-opt JIT from the start (no tiering, so no PGO) keeps it deterministic.
# Usage (repo root, after `dotnet build -c Release bench`):
#   bench/instr-per-request.sh ["Kind Depth" ...]      default: Get 16, Set 16, Check 16, Add 16, Get 1
set -eu
DLL=${DLL:-bench/bin/Release/net10.0/TcpStore.Bench.dll}
LOW=${LOW:-2000}; HIGH=${HIGH:-12000}
ROWS=("$@"); [ ${#ROWS[@]} -eq 0 ] && ROWS=("Get 16" "Set 16" "Check 16" "Add 16" "Get 1")
# JitEnableOptionalRelocs=0: under valgrind the runtime's data lands more than 2 GiB from the JIT's code,
# a RIP-relative operand does not fit, and the runtime then recompiles the method with MinOpts (no inlining,
# no register allocation worth the name): without it most of the request path was counted unoptimized
# (DOTNET_JitDisasmSummary=1 lists the methods as "MinOpts"). With it the JIT uses 64-bit addresses from
# the start and every method is FullOpts, as outside valgrind.
export DOTNET_TieredCompilation=0 DOTNET_EnableWriteXorExecute=0 DOTNET_gcServer=0 DOTNET_GCgen0size=0x4000000
export DOTNET_JitEnableOptionalRelocs=0
count() { # kind depth batches -> "instructions requests"
  local out; out=$(mktemp -d)
  valgrind --tool=callgrind --callgrind-out-file="$out/cg" --smc-check=all-non-file \
    dotnet "$DLL" count "$1" "$2" "$3" >"$out/stdout" 2>"$out/stderr" || { cat "$out/stderr" >&2; exit 1; }
  echo "$(grep -oE 'Collected : [0-9]+' "$out/stderr" | grep -oE '[0-9]+') $(tail -1 "$out/stdout")"
  rm -rf "$out"
}
for row in "${ROWS[@]}"; do set -- $row
  read -r i0 r0 < <(count "$1" "$2" "$LOW")
  read -r i1 r1 < <(count "$1" "$2" "$HIGH")
  # SET counts SET+CHECK as one operation, as the load table does (the harness counts both frames).
  per=$([ "$1" = Set ] && echo 2 || echo 1)
  awk -v k="$1" -v d="$2" -v i0="$i0" -v i1="$i1" -v r0="$r0" -v r1="$r1" -v per="$per" \
    'BEGIN { printf "%-10s depth %-3d %8.0f instructions/op\n", k, d, (i1 - i0) / ((r1 - r0) / per) }'
done
