#!/usr/bin/env bash
# Installs the build at $1 into a temporary prefix, then configures, builds and runs a separate
# project that uses it through find_package(cserve).
set -euo pipefail
build_dir=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cmake -S "$here/consumer" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build "$work/build" >/dev/null
CSERVE_LOG_LEVEL=warning "$work/build/consumer"
