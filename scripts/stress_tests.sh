#!/usr/bin/env bash
# Runs the test suite N times in a row in each preset given (default: release asan-ubsan tsan)
# and stops at the first failing run, printing its failures. For catching flaky tests:
#
#   ./scripts/stress_tests.sh 10                     # all three presets, ten runs each
#   ./scripts/stress_tests.sh 5 release              # five runs of the release suite
#
# Each preset is built once first (as `make test`, `make test-asan`, `make test-tsan` do).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10}
shift || true
presets=("$@")
if ((${#presets[@]} == 0)); then presets=(release asan-ubsan tsan); fi
for preset in "${presets[@]}"; do
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" >/dev/null
  for i in $(seq 1 "$runs"); do
    start=$(date +%s)
    if ! out=$(ctest --preset "$preset" -j2 --output-on-failure 2>&1); then
      echo "$preset: run $i of $runs FAILED"
      grep -E "\*\*\*Failed|Failed  |Timeout" <<<"$out" || true
      log="build/stress-$preset-run$i.log"
      echo "$out" >"$log"
      echo "the whole output: $log"
      exit 1
    fi
    echo "$preset: run $i of $runs passed ($(grep -o '[0-9]*% tests passed, [0-9]* tests failed out of [0-9]*' <<<"$out" | tail -1); $(( $(date +%s) - start )) s)"
  done
done
echo "all runs passed"
