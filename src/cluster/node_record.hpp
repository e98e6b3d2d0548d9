// node_record.hpp — what a node publishes about itself at `nodes/<id>` in the cluster's store,
// under its lease (docs/cluster.md): where it is, what it has, what is free, and when it last
// said so. Encoded as JSON, so that `etcdctl get --prefix nodes/` reads as it is.
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace cserve::cluster {

inline constexpr char kNodesPrefix[] = "nodes/";

struct NodeRecord {
  std::string id;  // the node's name, unique in the cluster
  std::string ip;
  int http_port = 0;
  int admin_port = 0;
  int peer_port = 0;  // where other nodes send this node's replicas their calls (0: none yet)
  std::int64_t pid = 0;
  std::map<std::string, double> resources;  // in all: "CPU", "GPU" and custom names
  std::map<std::string, double> available;  // not held by replicas
  int replicas = 0;
  // The replicas that take calls now: application -> deployment -> how many (RUNNING). Other
  // nodes' routers send calls here for these.
  std::map<std::string, std::map<std::string, int>> serving;
  // Requests in flight on its replicas and waiting in its routers: application -> deployment ->
  // how many (as of the last heartbeat). The leader sums them to autoscale across nodes.
  std::map<std::string, std::map<std::string, double>> load;
  std::int64_t started_ms = 0;    // Unix time in ms
  std::int64_t heartbeat_ms = 0;  // the last refresh, Unix time in ms
};

std::string node_key(const std::string& id);
std::string encode(const NodeRecord& r);
// Throws cserve::Error naming what is wrong with a value that is not a node record.
NodeRecord decode_node(const std::string& value);

// Why `id` cannot name a node (1 to 63 letters, digits, '.', '_' or '-'), or nullopt.
std::optional<std::string> invalid_node_id(const std::string& id);

}  // namespace cserve::cluster
