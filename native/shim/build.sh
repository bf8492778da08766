#!/usr/bin/env bash
# Builds tcpstore-shim against the libtorch-cpu-linux-x64 NuGet package.
#   native/shim/build.sh [PACKAGE_DIR] [OUTPUT]
# PACKAGE_DIR defaults to ~/.nuget/packages/libtorch-cpu-linux-x64/2.10.0,
# OUTPUT to native/shim/build/tcpstore-shim. No-op when OUTPUT is newer than
# every source file.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
pkg="${1:-$HOME/.nuget/packages/libtorch-cpu-linux-x64/2.10.0}"
out="${2:-$here/build/tcpstore-shim}"
native="$pkg/runtimes/linux-x64/native"

if [[ ! -f "$native/libtorch_cpu.so" || ! -f "$native/libc10.so" ]]; then
  echo "build.sh: libtorch_cpu.so / libc10.so not found under $native" >&2
  exit 1
fi

sources=("$here/tcpstore_shim.cpp" "$here/torch_decls.h" "$here/gloo_decls.h" "$here/gloo_mode.h" "$here/build.sh")
if [[ -f "$out" ]]; then
  stale=0
  for s in "${sources[@]}"; do
    if [[ "$s" -nt "$out" ]]; then stale=1; fi
  done
  if [[ $stale -eq 0 ]]; then
    exit 0
  fi
fi

cxx="${CXX:-g++}"
if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "build.sh: $cxx not found (install g++)" >&2
  exit 1
fi

native_abs="$(cd "$native" && pwd)"
mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT

"$cxx" -O2 -std=c++17 -D_GLIBCXX_USE_CXX11_ABI=1 -Wall -Wextra -pthread \
  -o "$tmp" "$here/tcpstore_shim.cpp" \
  -L"$native_abs" -Wl,--no-as-needed -ltorch_cpu -lc10 -Wl,--as-needed \
  -Wl,-rpath,"$native_abs" -Wl,--allow-shlib-undefined

mv -f "$tmp" "$out"
echo "build.sh: built $out"
