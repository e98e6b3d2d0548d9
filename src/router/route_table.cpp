#include "router/route_table.hpp"

#include <algorithm>

namespace cserve {

RouteTable::RouteTable(std::vector<Entry> entries) : entries_(std::move(entries)) {
  std::stable_sort(entries_.begin(), entries_.end(),
                   [](const Entry& a, const Entry& b) { return a.prefix.size() > b.prefix.size(); });
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
