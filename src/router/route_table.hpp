// route_table.hpp — the snapshot of HTTP routes the controller publishes to proxies:
// route_prefix -> (application, the ingress deployment's router). Matching is by longest prefix
// on whole path segments: "/Counter" matches "/Counter", "/Counter/" and "/Counter/incr" but not
// "/Counterfeit"; "/" matches every path.
// Thread-safety: immutable once built; share it as shared_ptr<const RouteTable>.
#pragma once

#include "router/router.hpp"

#include <cserve/json.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cserve {

class RouteTable {
 public:
  struct Entry {
    std::string prefix;
    std::string app;
    std::shared_ptr<Router> router;
  };
  struct Match {
    const Entry* entry = nullptr;
    std::string_view rest;  // the path below the prefix; "/" when nothing is left
  };

  explicit RouteTable(std::vector<Entry> entries);

  Match match(std::string_view path) const;
  // {"/Counter": "default", ...}, as /-/routes shows it.
  Json to_json() const;
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;  // longest prefix first
};

}  // namespace cserve
