#include "cluster/node_record.hpp"

#include <cserve/error.hpp>
#include <cserve/json.hpp>

namespace cserve::cluster {

std::string node_key(const std::string& id) { return kNodesPrefix + id; }

std::string encode(const NodeRecord& r) {
  return Json{{"id", r.id},
              {"ip", r.ip},
              {"http_port", r.http_port},
              {"admin_port", r.admin_port},
              {"peer_port", r.peer_port},
              {"pid", r.pid},
              {"resources", r.resources},
              {"available", r.available},
              {"replicas", r.replicas},
              {"serving", r.serving},
              {"load", r.load},
              {"started_ms", r.started_ms},
              {"heartbeat_ms", r.heartbeat_ms}}
      .dump();
}

NodeRecord decode_node(const std::string& value) {
  try {
    const Json j = Json::parse(value);
    NodeRecord r;
    r.id = j.at("id").get<std::string>();
    r.ip = j.at("ip").get<std::string>();
    r.http_port = j.at("http_port").get<int>();
    r.admin_port = j.at("admin_port").get<int>();
    r.pid = j.at("pid").get<std::int64_t>();
    r.resources = j.at("resources").get<std::map<std::string, double>>();
    r.available = j.at("available").get<std::map<std::string, double>>();
    r.replicas = j.at("replicas").get<int>();
    // Absent in the records of nodes that serve no calls from other nodes.
    r.peer_port = j.value("peer_port", 0);
    if (j.contains("serving")) r.serving = j.at("serving").get<std::map<std::string, std::map<std::string, int>>>();
    if (j.contains("load")) r.load = j.at("load").get<std::map<std::string, std::map<std::string, double>>>();
    r.started_ms = j.at("started_ms").get<std::int64_t>();
    r.heartbeat_ms = j.at("heartbeat_ms").get<std::int64_t>();
    return r;
  } catch (const Json::exception& e) {
    throw Error(std::string("not a node record: ") + e.what(), ErrorCode::kInvalidArgument);
  }
}

std::optional<std::string> invalid_node_id(const std::string& id) {
  if (id.empty() || id.size() > 63) {
    return "a node name has 1 to 63 characters ('" + id + "' has " + std::to_string(id.size()) + ")";
  }
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) return "a node name has only letters, digits, '.', '_' and '-' ('" + id + "')";
  }
  return std::nullopt;
}

}  // namespace cserve::cluster
