// route_table.hpp — the snapshot of HTTP routes the controller publishes to proxies:
// route_prefix -> (application, the ingress deployment's router), and model name -> the router of
// the deployment serving it (Open Inference Protocol). Matching is by longest prefix
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
    std::vector<std::string> stream_methods;  // the ingress's methods by name that return a Stream
  };
  struct Match {
    const Entry* entry = nullptr;
    std::string_view rest;  // the path below the prefix; "/" when nothing is left
  };

  // A model served over the Open Inference Protocol, by the deployment whose router it is.
  struct Model {
    std::string name;
    std::string app;
    std::string deployment;
    std::shared_ptr<Router> router;
  };

  explicit RouteTable(std::vector<Entry> entries, std::vector<Model> models = {});

  Match match(std::string_view path) const;
  const Model* model(std::string_view name) const;
  const std::vector<Model>& models() const { return models_; }
  // {"/Counter": "default", ...}, as /-/routes shows it.
  Json to_json() const;
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;  // longest prefix first
  std::vector<Model> models_;   // by name
};

}  // namespace cserve
