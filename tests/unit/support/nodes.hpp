// nodes.hpp — a node's resources as unit tests of placement and capacity write them.
#pragma once

#include "controller/placement.hpp"

#include <string>

namespace cserve::test {

// A node named "local" with `cpus` CPUs and `gpus` entirely free GPUs.
inline NodeResources node(double cpus, int gpus = 0) {
  NodeResources n;
  n.node_id = "local";
  n.cpus = cpus;
  n.gpus.assign(static_cast<std::size_t>(gpus), 1.0);
  return n;
}

}  // namespace cserve::test
