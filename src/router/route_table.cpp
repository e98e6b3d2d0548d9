#include "router/route_table.hpp"

#include <algorithm>

namespace cserve {

RouteTable::RouteTable(std::vector<Entry> entries, std::vector<Model> models)
    : entries_(std::move(entries)), models_(std::move(models)) {
  std::stable_sort(entries_.begin(), entries_.end(),
                   [](const Entry& a, const Entry& b) { return a.prefix.size() > b.prefix.size(); });
  std::sort(models_.begin(), models_.end(), [](const Model& a, const Model& b) { return a.name < b.name; });
}

const RouteTable::Model* RouteTable::model(std::string_view name) const {
  auto it = std::lower_bound(models_.begin(), models_.end(), name,
                             [](const Model& m, std::string_view n) { return m.name < n; });
  return it != models_.end() && it->name == name ? &*it : nullptr;
}

RouteTable::Match RouteTable::match(std::string_view path) const {
  for (const auto& e : entries_) {
    if (e.prefix == "/") return {&e, path.empty() ? std::string_view("/") : path};
    if (!path.starts_with(e.prefix)) continue;
    std::string_view rest = path.substr(e.prefix.size());
    if (rest.empty()) return {&e, "/"};
    if (rest.front() == '/') return {&e, rest};
  }
  return {};
}

Json RouteTable::to_json() const {
  Json out = Json::object();
  for (const auto& e : entries_) out[e.prefix] = e.app;
  return out;
}

}  // namespace cserve
