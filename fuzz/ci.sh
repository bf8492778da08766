#!/usr/bin/env bash
# Bounded fuzz run for CI: instruments the codec and core assemblies with SharpFuzz, then runs
# AFL++ on each target for FUZZ_SECONDS (default 60) seeded with fuzz/corpus. Exits non-zero and
# prints every crashing input (hex, plus the exception from a replay) if anything crashed.
# Falls back to the pure .NET mutation loop when AFL++ is missing and cannot be installed.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${FUZZ_SECONDS:-60}"
targets="${FUZZ_TARGETS:-codec session}"
work="$(mktemp -d "${TMPDIR:-/tmp}/tcpstore-fuzz.XXXXXX")"
keep_work="${FUZZ_KEEP:-0}"
cleanup() { [ "$keep_work" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

if ! command -v afl-fuzz >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "fuzz: installing afl++"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++) >/dev/null 2>&1 || true
fi

echo "fuzz: building into $work/bin"
dotnet build "$root/fuzz/TcpStore.Fuzz.csproj" -c Release -o "$work/bin" -nologo -v q >"$work/build.log" 2>&1 \
  || { cat "$work/build.log"; echo "fuzz: build failed"; exit 1; }
fuzz=(dotnet "$work/bin/TcpStore.Fuzz.dll")

crashes=0
report_crash() { # report_crash TARGET FILE
  echo "=== crashing input for '$1': $2 ($(wc -c <"$2") bytes)"
  od -An -tx1 -v "$2" | head -64
  "${fuzz[@]}" replay "$1" "$2" 2>&1 | head -40
  crashes=$((crashes + 1))
}

if command -v afl-fuzz >/dev/null 2>&1; then
  if ! dotnet tool install --tool-path "$work/tools" SharpFuzz.CommandLine --version 2.3.0 >"$work/tool.log" 2>&1; then
    cat "$work/tool.log"; echo "fuzz: cannot install SharpFuzz.CommandLine"; exit 1
  fi
  for dll in TcpStore.Codec.dll TcpStore.Core.dll; do
    "$work/tools/sharpfuzz" "$work/bin/$dll" || { echo "fuzz: instrumenting $dll failed"; exit 1; }
  done
  export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1
  for target in $targets; do
    echo "fuzz: AFL++ on '$target' for ${seconds}s"
    timeout -k 10 $((seconds + 60)) afl-fuzz -i "$root/fuzz/corpus" -o "$work/afl-$target" -V "$seconds" -t 5000 -m none \
      -- "${fuzz[@]}" afl "$target" >"$work/afl-$target.log" 2>&1
    rc=$?
    stats="$work/afl-$target/default/fuzzer_stats"
    if [ ! -f "$stats" ]; then
      tail -30 "$work/afl-$target.log"; echo "fuzz: afl-fuzz did not run (rc=$rc)"; exit 1
    fi
    grep -E '^(execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|bitmap_cvg|run_time)\s' "$stats" | tr -s ' ' | sed "s/^/fuzz: $target: /"
    for file in "$work/afl-$target"/default/crashes/id:*; do
      [ -e "$file" ] && report_crash "$target" "$file"
    done
  done
else
  echo "fuzz: AFL++ unavailable; running the .NET mutation loop instead"
  for target in $targets; do
    if ! "${fuzz[@]}" mutate "$target" "$root/fuzz/corpus" "$work/crashes-$target" "$seconds"; then
      for file in "$work/crashes-$target"/*; do
        [ -e "$file" ] && report_crash "$target" "$file"
      done
      [ "$crashes" -gt 0 ] || crashes=1
    fi
  done
fi

if [ "$crashes" -gt 0 ]; then
  echo "fuzz: $crashes crashing input(s); add each to fuzz/corpus/regressions/ (the replay tests then cover it)"
  exit 1
fi
echo "fuzz: no crashes"
