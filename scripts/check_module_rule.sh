#!/usr/bin/env bash
# The module rule (docs/architecture.md): the data plane — proxy, router, replica, wire, worker, peer — depends on the
# public API, common and wire only, never on the controller (or the runtime, admin, config and
# CLI that sit above it). CMake's target links enforce it at link time; this check enforces it at
# the include level, where a header-only dependency would slip through. Exit 1 lists offenders.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
offenders=$(grep -rnE '#include +"(controller|runtime|admin|config|cli|cluster)/' \
              "$root/src/proxy" "$root/src/router" "$root/src/replica" "$root/src/wire" "$root/src/worker" \
              "$root/src/peer" || true)
if [[ -n "$offenders" ]]; then
  echo "module rule broken: the data plane includes the control plane:"
  echo "${offenders//$root\//}"
  exit 1
fi
echo "module rule holds: proxy, router, replica, wire, worker and peer include no controller, runtime, admin, config, cli or cluster header"
