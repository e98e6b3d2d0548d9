#!/usr/bin/env bash
# Installs the Debian packages cserve needs to build, test and benchmark.
# Idempotent: does nothing when every package is already present.
#   install_deps.sh            everything the build and the test suite use
#   install_deps.sh --core     without the model frameworks (enough for `make run`)
#   install_deps.sh --bench    everything, and what the benchmarks compare against
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config clang libclang-rt-14-dev
  libboost-dev libboost-system-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libyaml-cpp-dev libcli11-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc libssl-dev
  curl python3-grpcio python3-grpc-tools etcd-server
)
# The model frameworks examples/models serves (LibTorch, XGBoost, OpenCV DNN).
models=(libtorch-dev libxgboost-dev libopencv-dnn-dev libopencv-imgcodecs-dev libopencv-imgproc-dev)
case "${1:-}" in
  --core) ;;
  --bench) packages+=("${models[@]}" wrk python3-fastapi python3-uvicorn) ;;
  *) packages+=("${models[@]}") ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "installing: ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
