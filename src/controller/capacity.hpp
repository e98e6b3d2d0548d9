// capacity.hpp — whether a replica that fits nowhere now can ever fit, and who holds what.
//
// Two kinds of capacity (ControllerOptions::capacity):
//  * kFixed — embedded mode: the nodes are all there will be. A replica that does not fit even
//    once every replica on its way out (stopping, of an old version, of a deleted deployment, or
//    above its deployment's target) has given its resources back never will: the deployment
//    fails at once (DEPLOY_FAILED, serve.run throws DeployError) with a message naming what it
//    needs, what each node has in all and free, and who holds it.
//  * kElastic — cluster mode: nodes come and go, so such a replica waits, PENDING, with the same
//    message in its deployment's status.
// Thread-safety: pure functions over values.
#pragma once

#include "controller/placement.hpp"

#include <cserve/resources.hpp>

#include <optional>
#include <string>
#include <vector>

namespace cserve {

enum class Capacity { kFixed, kElastic };

// A replica's allocation as the capacity check sees it.
struct Holding {
  std::string application;
  std::string deployment;
  Allocation allocation;
  bool leaving = false;  // its resources come back without anyone asking (see above)
};

// nullopt when `want` fits on `free` plus what the leaving holdings give back; else why it never
// will: "needs {CPU: 1} per replica; node 'local' has {CPU: 2, GPU: 0} in all and
// {CPU: 0, GPU: 0} free, held by deployment 'A' of application 'app' (1 replica, CPU 1), ...".
std::optional<std::string> never_fits(const Resources& want, const std::vector<NodeResources>& total,
                                      const std::vector<NodeResources>& free, const std::vector<Holding>& holdings);

}  // namespace cserve
