// cserve/resources.hpp — what one replica reserves on a node.
// Thread-safety: plain values.
#pragma once

#include <map>
#include <string>

namespace cserve {

// Fractions are allowed: {.gpus = 0.5} lets two replicas share one GPU.
struct Resources {
  double cpus = 1.0;                     // CPUs reserved per replica
  double gpus = 0.0;                     // a fraction (< 1) shares one GPU; whole numbers take GPUs
  std::map<std::string, double> custom;  // named resources a node declares, e.g. {"tpu", 1}
  // Bytes of memory per replica (Ray's `memory`); 0: no limit. A limit, not a reservation: it is
  // enforced for replicas in worker processes (isolation: process), whose worker is killed when
  // its resident memory passes it; placement does not count it.
  double memory = 0;
};

}  // namespace cserve
