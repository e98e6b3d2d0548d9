#!/usr/bin/env bash
# The GPU checks, for a machine with an NVIDIA GPU, its driver and the CUDA toolkit: builds
# examples/cuda_mlp and its tests, runs them (none may skip here), then the GPU benchmark.
# Takes a few minutes on a machine with many cores. Without a GPU, use `make test`: the suite
# builds the example and runs what needs no GPU.
#
#   ./scripts/gpu_check.sh [BENCH_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
build=build/gpu

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv
# Release flags; only what the GPU checks need.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCSERVE_BUILD_BENCH=OFF \
  -DCMAKE_CXX_COMPILER_LAUNCHER="$(command -v ccache || true)" >"$build.configure.log" 2>&1 ||
  { cat "$build.configure.log"; exit 1; }
grep -q "examples/cuda_mlp: CUDA" "$build.configure.log" ||
  { grep "cuda_mlp" "$build.configure.log"; echo "gpu_check: the CUDA example was not configured" >&2; exit 1; }
cmake --build "$build" -j"$(nproc)" --target cuda_mlp gpu_tests

# Every GPU test must run: a skip here means the GPU was not usable.
out=$("$build/tests/gpu_tests" --gtest_brief=0 2>&1) || { echo "$out"; exit 1; }
echo "$out" | grep -E "^\[ +(OK|SKIPPED|FAILED) +\]"
if echo "$out" | grep -q "SKIPPED \] CudaMlp.TwoReplicas"; then
  echo "gpu_check: the GPU test skipped: no usable CUDA device" >&2
  exit 1
fi

if command -v wrk >/dev/null; then
  ./bench/cuda_mlp.sh "$seconds" "$build"
else
  echo "gpu_check: wrk is not installed: benchmark not run"
fi
