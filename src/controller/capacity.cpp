#include "controller/capacity.hpp"

#include <map>
#include <sstream>
#include <utility>

namespace cserve {
namespace {

std::string amount(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// "deployment 'A' of application 'app' (2 replicas, CPU 2, GPU 0.5)" for each holder on `node`.
std::string holders_on(const std::string& node, const std::vector<Holding>& holdings) {
  struct Held {
    int replicas = 0;
    double cpus = 0, gpus = 0;
    std::map<std::string, double> custom;
  };
  std::map<std::pair<std::string, std::string>, Held> by_holder;
  for (const auto& h : holdings) {
    if (h.allocation.node_id != node) continue;
    Held& held = by_holder[{h.application, h.deployment}];
    ++held.replicas;
    held.cpus += h.allocation.cpus;
    for (const auto& [id, share] : h.allocation.gpus) held.gpus += share;
    for (const auto& [k, v] : h.allocation.custom) held.custom[k] += v;
  }
  std::string out;
  for (const auto& [who, held] : by_holder) {
    if (!out.empty()) out += ", ";
    out += "deployment '" + who.second + "' of application '" + who.first + "' (" +
           std::to_string(held.replicas) + (held.replicas == 1 ? " replica" : " replicas") + ", CPU " +
           amount(held.cpus);
    if (held.gpus > 0) out += ", GPU " + amount(held.gpus);
    for (const auto& [k, v] : held.custom) out += ", " + k + " " + amount(v);
    out += ")";
  }
  return out.empty() ? "nobody" : out;
}

}  // namespace

std::optional<std::string> never_fits(const Resources& want, const std::vector<NodeResources>& total,
                                      const std::vector<NodeResources>& free, const std::vector<Holding>& holdings) {
  std::vector<NodeResources> after = free;
  for (const auto& h : holdings) {
    if (h.leaving) apply_allocation(after, h.allocation, +1);
  }
  if (place(want, after).allocation) return std::nullopt;
  std::string why = "needs " + describe(want) + " per replica";
  for (std::size_t i = 0; i < total.size(); ++i) {
    why += "; node '" + total[i].node_id + "' has " + describe(total[i]) + " in all and " +
           (i < free.size() ? describe(free[i]) : std::string("nothing")) + " free, held by " +
           holders_on(total[i].node_id, holdings);
  }
  if (total.empty()) why += "; there are no nodes";
  return why;
}

}  // namespace cserve
