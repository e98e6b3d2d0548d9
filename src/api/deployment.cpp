// Names and version fingerprints of deployments.
#include <cserve/deployment.hpp>

#include <cserve/error.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>

namespace cserve::detail {

std::string unqualified_name(std::string_view name) {
  // Functions print as "hello" or "(& ns::hello)"; drop the decoration.
  if (name.starts_with("(& ")) name = name.substr(3, name.size() - 4);
  if (name.starts_with("& ")) name = name.substr(2);
  // Drop namespaces before the first template argument list.
  std::size_t angle = name.find('<');
  std::string_view head = name.substr(0, angle);
  std::size_t colon = head.rfind("::");
  if (colon != std::string_view::npos) name = name.substr(colon + 2);
  return std::string(name);
}

std::string fingerprint(std::string_view type_name, const std::vector<std::string>& args) {
  std::string all(type_name);
  for (const auto& a : args) all.append("\x1f").append(a);
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016zx", std::hash<std::string>{}(all));
  return buf;
}

std::string opaque_argument() {
  static std::atomic<unsigned long long> next{0};
  return "opaque#" + std::to_string(next.fetch_add(1));
}

}  // namespace cserve::detail

namespace cserve::detail {

void add_child_deployments(std::vector<DeploymentDef>& out, const Application& child) {
  for (const auto& def : child.deployments()) {
    auto same_name = std::find_if(out.begin() + 1, out.end(), [&](const DeploymentDef& d) {
      return d.options.name == def.options.name;
    });
    if (same_name == out.end()) {
      out.push_back(def);
    } else if (same_name->code_version != def.code_version) {
      throw ConfigError("two different deployments are named '" + def.options.name +
                        "' in one application; give one of them another name()");
    }
  }
}

}  // namespace cserve::detail
