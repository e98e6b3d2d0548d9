#include "proxy/proxy_state.hpp"

namespace cserve {

void ProxyState::set_routes(std::shared_ptr<const RouteTable> table) {
  detail::MutexLock lock(routes_mu_);
  routes_latest_ = std::move(table);
  routes_version_.fetch_add(1, std::memory_order_release);
}

const std::shared_ptr<const RouteTable>& ProxyState::routes() {
  struct Cache {
    const ProxyState* owner = nullptr;
    std::uint64_t version = 0;
    std::shared_ptr<const RouteTable> table;
  };
  thread_local Cache cache;
  const std::uint64_t v = routes_version_.load(std::memory_order_acquire);
  if (cache.owner != this || cache.version != v) {
    detail::MutexLock lock(routes_mu_);
    cache.owner = this;
    cache.version = routes_version_.load(std::memory_order_relaxed);
    cache.table = routes_latest_;
  }
  return cache.table;
}

void ProxyState::add(Connection* c, std::weak_ptr<Connection> weak) {
  detail::MutexLock lock(connections_mu_);
  connections_.emplace(c, std::move(weak));
}

void ProxyState::remove(Connection* c) {
  detail::MutexLock lock(connections_mu_);
  connections_.erase(c);
}

std::vector<std::shared_ptr<Connection>> ProxyState::alive() {
  std::vector<std::shared_ptr<Connection>> out;
  detail::MutexLock lock(connections_mu_);
  for (auto& [ptr, weak] : connections_) {
    if (auto c = weak.lock()) out.push_back(std::move(c));
  }
  return out;
}

}  // namespace cserve
