// proxy_state.hpp — what every connection of one proxy shares: its options, the local handler
// (the admin API), metrics, the route table, the drain flag and the registry of live connections.
// Thread-safety: options, local and record_metrics are constant after construction; routes() and
// set_routes() are safe from any thread; the registry is guarded by its mutex.
#pragma once

#include "proxy/http_metrics.hpp"
#include "router/route_table.hpp"

#include <cserve/detail/mutex.hpp>
#include <cserve/http.hpp>
#include <cserve/serve.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>

namespace cserve {

class Connection;

struct ProxyState {
  // Answers a request on the I/O thread before the route table (the admin API); nullopt lets it
  // go on to the routes.
  using LocalHandler = std::function<std::optional<Response>(const Request&)>;

  // Constant after construction:
  HttpOptions options;
  LocalHandler local;
  bool record_metrics = true;
  HttpMetrics metrics;

  std::atomic<bool> draining{false};

  // The route table: replaced by the controller (rarely), read by every request. Readers keep a
  // per-thread copy and take the mutex only when the version has moved.
  void set_routes(std::shared_ptr<const RouteTable> table);
  const std::shared_ptr<const RouteTable>& routes();

  // Live connections, for drain(): registered on start, removed by their destructor.
  void add(Connection* c, std::weak_ptr<Connection> weak);
  void remove(Connection* c);
  std::vector<std::shared_ptr<Connection>> alive();

  std::chrono::steady_clock::duration timeout(double seconds) const {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(seconds));
  }

 private:
  detail::Mutex routes_mu_;
  std::shared_ptr<const RouteTable> routes_latest_ CSERVE_GUARDED_BY(routes_mu_) =
      std::make_shared<const RouteTable>(std::vector<RouteTable::Entry>{});
  std::atomic<std::uint64_t> routes_version_{1};

  detail::Mutex connections_mu_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections_ CSERVE_GUARDED_BY(connections_mu_);
};

}  // namespace cserve
