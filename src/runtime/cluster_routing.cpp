#include "runtime/cluster_routing.hpp"

#include "common/asio.hpp"
#include "common/logging.hpp"

#include <algorithm>
#include <chrono>

namespace cserve::detail {
namespace {
constexpr std::chrono::milliseconds kRefreshPeriod{100};
}  // namespace

ClusterRouting::ClusterRouting(std::string self, const std::string& host, int port, ClusterRoutingHooks hooks)
    : self_(std::move(self)), hooks_(std::move(hooks)), io_(std::make_unique<asio::io_context>(1)) {
  server_ = std::make_unique<PeerServer>(
      *io_, host, port, [router = hooks_.router, self = self_](const std::string& app, const std::string& deployment) {
        std::shared_ptr<Router> r = router(app, deployment);
        if (!r) {
          throw Error("node '" + self + "' has no deployment '" + deployment + "' of application '" + app + "'",
                      ErrorCode::kNotFound);
        }
        return r->local_sink();
      });
  peer_port_ = server_->port();
  io_thread_ = std::thread([io = io_.get()] {
    auto guard = asio::make_work_guard(*io);
    io->run();
  });
  refresh_thread_ = std::thread([this] { run(); });
}

ClusterRouting::~ClusterRouting() { stop(); }

Serving ClusterRouting::serving() const {
  MutexLock lock(mu_);
  return serving_;
}

Load ClusterRouting::load() const {
  MutexLock lock(mu_);
  return load_;
}

void ClusterRouting::stop() {
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (refresh_thread_.joinable()) refresh_thread_.join();
  // The routers stop choosing other nodes (their calls in flight fail as the links close).
  for (auto& [key, fed] : fed_) {
    if (auto router = fed.router.lock()) router->update_remote({});
  }
  for (auto& [node, link] : links_) link->close();
  server_->stop();
  // What the closes posted (failing calls in flight, closing connections) runs first.
  asio::post(*io_, [io = io_.get()] { io->stop(); });
  if (io_thread_.joinable()) io_thread_.join();
}

void ClusterRouting::run() {
  for (;;) {
    try {
      refresh();
    } catch (const std::exception& e) {
      CSERVE_LOG(kWarning, "cluster") << "routing to other nodes: " << e.what();
    }
    MutexLock lock(mu_);
    cv_.wait_for(mu_, kRefreshPeriod, [this] {
      mu_.assert_held();
      return stopping_;
    });
    if (stopping_) return;
  }
}

void ClusterRouting::refresh() {
  // 1. What this node serves.
  Serving mine = hooks_.serving();
  Load load;
  for (const auto& [app, deployments] : mine) {
    for (const auto& [deployment, n] : deployments) {
      if (auto router = hooks_.router(app, deployment)) load[app][deployment] = router->local_load();
    }
  }
  bool changed = false;
  {
    MutexLock lock(mu_);
    load_ = std::move(load);
    if (mine != serving_) {
      serving_ = std::move(mine);
      changed = true;
    }
  }
  if (changed) hooks_.publish();

  // 2. The other nodes: links and stand-ins.
  std::map<std::string, cluster::NodeRecord> others;
  for (cluster::NodeRecord& r : hooks_.nodes()) {
    if (r.id != self_ && r.peer_port > 0) others.emplace(r.id, std::move(r));
  }
  for (auto it = links_.begin(); it != links_.end();) {
    auto other = others.find(it->first);
    if (other == others.end() || other->second.ip != it->second->ip() || other->second.peer_port != it->second->port()) {
      it->second->close();
      it = links_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [id, r] : others) {
    if (links_.count(id)) continue;
    auto link = std::make_shared<PeerLink>(*io_, id, r.ip, r.peer_port);
    link->start();
    links_.emplace(id, std::move(link));
  }
  std::map<DeploymentKey, std::map<std::string, int>> wanted;  // deployment -> node -> replicas
  for (const auto& [id, r] : others) {
    for (const auto& [app, deployments] : r.serving) {
      for (const auto& [deployment, n] : deployments) {
        if (n > 0) wanted[{app, deployment}][id] = n;
      }
    }
  }
  std::map<DeploymentKey, std::map<std::string, std::vector<std::shared_ptr<PeerReplica>>>> next;
  for (const auto& [key, nodes] : wanted) {
    for (const auto& [id, n] : nodes) {
      std::vector<std::shared_ptr<PeerReplica>> kept;
      auto old = stand_ins_.find(key);
      if (old != stand_ins_.end()) {
        auto on_node = old->second.find(id);
        // The same objects while the node's link is the same (their in-flight counts carry over).
        if (on_node != old->second.end() && !on_node->second.empty() && on_node->second.front()->link() == links_.at(id)) {
          kept = on_node->second;
        }
      }
      kept.resize(std::min<std::size_t>(kept.size(), static_cast<std::size_t>(n)));
      while (kept.size() < static_cast<std::size_t>(n)) {
        kept.push_back(std::make_shared<PeerReplica>(key.first, key.second, links_.at(id)));
      }
      next[key][id] = std::move(kept);
    }
  }
  stand_ins_ = std::move(next);

  // 3. The routers. A link that connected (again) since the last refresh makes every router
  // take its stand-ins again: calls queued while it was down are dispatched.
  std::map<std::string, bool> connected;
  for (const auto& [id, link] : links_) connected[id] = link->connected();
  const bool reconnected = std::any_of(connected.begin(), connected.end(), [&](const auto& c) {
    auto before = connected_.find(c.first);
    return c.second && (before == connected_.end() || !before->second);
  });
  connected_ = std::move(connected);
  std::map<DeploymentKey, Fed> fed;
  auto feed = [&](const DeploymentKey& key, std::vector<std::shared_ptr<Replica>> stand_ins) {
    std::shared_ptr<Router> router = hooks_.router(key.first, key.second);
    if (!router) return;  // not deployed here yet: the next refresh tries again
    auto last = fed_.find(key);
    const bool same = !reconnected && last != fed_.end() && last->second.router.lock() == router &&
                      last->second.stand_ins == stand_ins;
    if (!same) router->update_remote(stand_ins);
    if (!stand_ins.empty() || !same) fed[key] = Fed{router, std::move(stand_ins)};
  };
  for (const auto& [key, nodes] : stand_ins_) {
    std::vector<std::shared_ptr<Replica>> all;
    for (const auto& [id, replicas] : nodes) all.insert(all.end(), replicas.begin(), replicas.end());
    feed(key, std::move(all));
  }
  for (const auto& [key, last] : fed_) {
    if (!stand_ins_.count(key) && !last.stand_ins.empty()) feed(key, {});  // its last stand-ins went
  }
  fed_ = std::move(fed);
}

}  // namespace cserve::detail
