#include "controller/placement.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace cserve {
namespace {

constexpr double kEpsilon = 1e-9;

std::string format_amount(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

std::string describe(const NodeResources& n) {
  double gpu_total = 0;
  for (double g : n.gpus) gpu_total += g;
  std::string s = "{CPU: " + format_amount(n.cpus) + ", GPU: " + format_amount(gpu_total);
  for (const auto& [k, v] : n.custom) s += ", " + k + ": " + format_amount(v);
  return s + "}";
}

std::map<std::string, double> amounts(const NodeResources& n) {
  std::map<std::string, double> out = n.custom;
  double gpu_total = 0;
  for (double g : n.gpus) gpu_total += g;
  out["CPU"] = n.cpus;
  out["GPU"] = gpu_total;
  return out;
}

namespace {

// Why `want` does not fit on `node`, or nullopt with the allocation when it does.
std::optional<Allocation> try_node(const Resources& want, const NodeResources& node,
                                   std::string& why) {
  Allocation a;
  a.node_id = node.node_id;
  if (node.cpus + kEpsilon < want.cpus) {
    why = "CPU " + format_amount(want.cpus) + " > free " + format_amount(node.cpus);
    return std::nullopt;
  }
  a.cpus = want.cpus;
  for (const auto& [name, amount] : want.custom) {
    auto it = node.custom.find(name);
    double free = it == node.custom.end() ? 0 : it->second;
    if (free + kEpsilon < amount) {
      why = name + " " + format_amount(amount) + " > free " + format_amount(free);
      return std::nullopt;
    }
    a.custom[name] = amount;
  }
  if (want.gpus > kEpsilon) {
    if (want.gpus < 1) {
      int best = -1;
      for (int i = 0; i < static_cast<int>(node.gpus.size()); ++i) {
        if (node.gpus[i] + kEpsilon >= want.gpus && (best < 0 || node.gpus[i] < node.gpus[best])) {
          best = i;
        }
      }
      if (best < 0) {
        why = "no GPU with " + format_amount(want.gpus) + " free";
        return std::nullopt;
      }
      a.gpus.emplace_back(best, want.gpus);
    } else {
      int needed = static_cast<int>(std::lround(want.gpus));
      for (int i = 0; i < static_cast<int>(node.gpus.size()) && needed > 0; ++i) {
        if (node.gpus[i] + kEpsilon >= 1.0) {
          a.gpus.emplace_back(i, 1.0);
          --needed;
        }
      }
      if (needed > 0) {
        why = "GPU " + format_amount(want.gpus) + " whole > " +
              std::to_string(a.gpus.size()) + " entirely free";
        return std::nullopt;
      }
    }
  }
  return a;
}

}  // namespace

std::vector<int> Allocation::gpu_ids() const {
  std::vector<int> ids;
  for (const auto& [id, share] : gpus) ids.push_back(id);
  return ids;
}

std::optional<std::string> validate_resources(const Resources& want) {
  auto bad = [](double v) { return !std::isfinite(v) || v < 0; };
  if (bad(want.cpus)) return "resources.cpus must be a finite number >= 0";
  if (bad(want.gpus)) return "resources.gpus must be a finite number >= 0";
  if (want.gpus > 1 && std::abs(want.gpus - std::round(want.gpus)) > kEpsilon) {
    return "resources.gpus must be below 1 (a share of one GPU) or a whole number";
  }
  for (const auto& [name, amount] : want.custom) {
    if (name.empty()) return "resources.custom has an empty name";
    if (bad(amount)) return "resources.custom[" + name + "] must be a finite number >= 0";
  }
  return std::nullopt;
}

PlacementResult place(const Resources& want, const std::vector<NodeResources>& nodes) {
  PlacementResult result;
  std::string reasons;
  for (const auto& node : nodes) {
    std::string why;
    if (auto a = try_node(want, node, why)) {
      result.allocation = std::move(a);
      return result;
    }
    if (!reasons.empty()) reasons += "; ";
    reasons += "node '" + node.node_id + "': " + why + " (free " + describe(node) + ")";
  }
  result.reason = "needs " + describe(want) + "; " + (nodes.empty() ? "no nodes" : reasons);
  return result;
}

void apply_allocation(std::vector<NodeResources>& nodes, const Allocation& a, int sign) {
  for (auto& node : nodes) {
    if (node.node_id != a.node_id) continue;
    node.cpus += sign * a.cpus;
    for (const auto& [id, share] : a.gpus) node.gpus[static_cast<std::size_t>(id)] += sign * share;
    for (const auto& [name, amount] : a.custom) node.custom[name] += sign * amount;
    return;
  }
}

std::string describe(const Resources& r) {
  std::string s = "{CPU: " + format_amount(r.cpus);
  if (r.gpus > 0) s += ", GPU: " + format_amount(r.gpus);
  for (const auto& [k, v] : r.custom) s += ", " + k + ": " + format_amount(v);
  if (r.memory > 0) s += ", memory: " + format_amount(r.memory);
  return s + "}";
}

}  // namespace cserve
