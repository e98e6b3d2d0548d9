// placement.hpp — where a replica fits: pure logic over the free resources of each node.
//
// CPUs and custom resources are plain amounts. GPUs are counted per device: a fraction below 1
// goes to one GPU that has that much left (the fullest such GPU, so fractions pack together);
// a whole number takes that many entirely free GPUs. Nodes are tried in order.
// Thread-safety: pure functions over values.
#pragma once

#include <cserve/resources.hpp>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace cserve {

struct NodeResources {
  std::string node_id;
  double cpus = 0;
  std::vector<double> gpus;  // free share of each GPU, by GPU id (1.0 = entirely free)
  std::map<std::string, double> custom;
};

struct Allocation {
  std::string node_id;
  double cpus = 0;
  std::vector<std::pair<int, double>> gpus;  // (GPU id, share)
  std::map<std::string, double> custom;

  std::vector<int> gpu_ids() const;
};

struct PlacementResult {
  std::optional<Allocation> allocation;
  std::string reason;  // when it fits nowhere: what is missing on each node
};

// Checks a request is well-formed: amounts >= 0, GPUs a fraction below 1 or a whole number.
// Returns nullopt when valid, else a message naming the field.
std::optional<std::string> validate_resources(const Resources& want);

PlacementResult place(const Resources& want, const std::vector<NodeResources>& nodes);

// Takes an allocation out of (sign = -1) or gives it back to (sign = +1) its node.
void apply_allocation(std::vector<NodeResources>& nodes, const Allocation& a, int sign);

// "{CPU: 1, GPU: 0.5, tpu: 1}".
std::string describe(const Resources& r);
// A node's amounts: "{CPU: 2, GPU: 0}" (GPU: the sum of the devices' shares).
std::string describe(const NodeResources& n);
// The same amounts by name: {"CPU": 2, "GPU": 0, "tpu": 1}.
std::map<std::string, double> amounts(const NodeResources& n);

}  // namespace cserve
