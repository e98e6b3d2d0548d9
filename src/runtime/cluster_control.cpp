#include "runtime/cluster_control.hpp"

#include "controller/autoscaling_policy.hpp"

#include "common/logging.hpp"

#include <cserve/error.hpp>

#include <set>

namespace cserve::detail {
namespace {

// How soon a config or share that could not be loaded is tried again.
constexpr std::chrono::seconds kRetry{1};


using cluster::KeyValue;
using cluster::Op;

std::string assign_key(const std::string& node) { return kAssignPrefix + node; }

// What a node's record offers, as placement counts it (GPUs as whole devices).
NodeResources offered(const cluster::NodeRecord& r) {
  NodeResources n;
  n.node_id = r.id;
  for (const auto& [name, amount] : r.resources) {
    if (name == "CPU") {
      n.cpus = amount;
    } else if (name == "GPU") {
      n.gpus.assign(static_cast<std::size_t>(amount), 1.0);
    } else {
      n.custom[name] = amount;
    }
  }
  return n;
}

// A node's assignment: its shares, and the cluster's config with each deployment's num_replicas
// set to the node's share (an application with none still has its route there; an autoscaled
// deployment is a fixed share there: the leader scales it). The nodes'
// addresses come from their own start options, so the config's http and gRPC options go.
Json assignment(const Json& config, cluster::Revision config_revision, const std::vector<Demand>& demands,
               const std::map<DeploymentKey, int>& shares, const Json& shortfalls) {
  Json node_config = config.is_object() ? config : Json::object();
  node_config.erase("http_options");
  node_config.erase("grpc_options");
  if (!node_config.contains("applications")) node_config["applications"] = Json::array();
  Json listed = Json::array();
  for (Json& app : node_config["applications"]) {
    const std::string name = app.value("name", "default");
    if (!app.contains("deployments")) app["deployments"] = Json::array();
    for (const Demand& d : demands) {
      if (d.deployment.first != name) continue;
      auto it = shares.find(d.deployment);
      const int share = it == shares.end() ? 0 : it->second;
      listed.push_back({name, d.deployment.second, share});
      bool found = false;
      for (Json& dep : app["deployments"]) {
        if (dep.value("name", "") == d.deployment.second) {
          dep["num_replicas"] = share;
          dep.erase("autoscaling_config");  // the leader autoscales; the node runs its share
          found = true;
        }
      }
      if (!found) app["deployments"].push_back({{"name", d.deployment.second}, {"num_replicas", share}});
    }
  }
  return {{"shares", listed},
          {"config", node_config},
          {"config_revision", config_revision},
          {"shortfalls", shortfalls}};
}

Shares shares_in(const cluster::PrefixMirror::Snapshot& assignments) {
  Shares out;
  for (const auto& [key, kv] : assignments) {
    try {
      const std::string node = key.substr(std::string(kAssignPrefix).size());
      const Json value = Json::parse(kv.value);
      for (const auto& s : value.at("shares")) {
        const int n = s.at(2).get<int>();
        if (n > 0) out[node][{s.at(0).get<std::string>(), s.at(1).get<std::string>()}] = n;
      }
    } catch (const Json::exception& e) {
      CSERVE_LOG(kWarning, "cluster") << key << " ignored: " << e.what();
    }
  }
  return out;
}

}  // namespace

ClusterControl::ClusterControl(cluster::Store& store, cluster::NodeAgent& agent, std::chrono::seconds ttl, Hooks hooks)
    : store_(store),
      agent_(agent),
      ttl_(ttl),
      hooks_(std::move(hooks)),
      election_(store, cluster::kControllerElection, agent.id(), 0) {
  auto nudge = [this](const cluster::PrefixMirror::Snapshot&) {
    {
      MutexLock lock(mu_);
      nudged_ = true;
    }
    cv_.notify_all();
  };
  const auto retry = std::chrono::duration_cast<std::chrono::milliseconds>(ttl) / 3;
  config_ = std::make_unique<cluster::PrefixMirror>(store_, kClusterConfigKey, nudge, retry);
  assignments_ = std::make_unique<cluster::PrefixMirror>(store_, kAssignPrefix, nudge, retry);
  thread_ = std::thread([this] { run(); });
}

ClusterControl::~ClusterControl() { stop(); }

void ClusterControl::stop() {
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ClusterControl::submit(const Json& config, std::chrono::milliseconds wait) {
  cluster::Revision revision = 0;
  try {
    revision = store_.put(kClusterConfigKey, config.dump());
  } catch (const cluster::StoreError& e) {
    throw Error(std::string("the cluster's store did not take the config: ") + e.what(), ErrorCode::kUnavailable);
  }
  MutexLock lock(mu_);
  nudged_ = true;
  cv_.notify_all();
  cv_.wait_for(mu_, wait, [&] {
    mu_.assert_held();
    return stopping_ || applied_config_ >= revision;
  });
}

Json ClusterControl::config() const {
  const auto snapshot = config_->snapshot();
  auto it = snapshot.find(kClusterConfigKey);
  if (it == snapshot.end()) return nullptr;
  try {
    return Json::parse(it->second.value);
  } catch (const Json::exception&) {
    return nullptr;
  }
}

std::vector<Shortfall> ClusterControl::shortfalls() const {
  std::vector<Shortfall> out;
  const auto snapshot = assignments_->snapshot();
  auto it = snapshot.find(assign_key(agent_.id()));
  if (it == snapshot.end()) return out;
  try {
    const Json value = Json::parse(it->second.value);
    for (const auto& f : value.at("shortfalls")) {
      out.push_back({{f.at("application").get<std::string>(), f.at("deployment").get<std::string>()},
                     f.at("message").get<std::string>()});
    }
  } catch (const Json::exception& e) {
    CSERVE_LOG(kWarning, "cluster") << it->first << " ignored: " << e.what();
  }
  return out;
}

std::vector<std::string> ClusterControl::problems() const {
  std::vector<std::string> out;
  MutexLock lock(mu_);
  if (plan_error_) out.push_back(*plan_error_);
  if (apply_error_) out.push_back(*apply_error_);
  return out;
}

void ClusterControl::run() {
  for (;;) {
    {
      MutexLock lock(mu_);
      // A pass on every change of the config or the assignments, and at least every 250 ms (the
      // node list and the leadership change without a nudge).
      cv_.wait_for(mu_, std::chrono::milliseconds(250), [this] {
        mu_.assert_held();
        return stopping_ || nudged_;
      });
      if (stopping_) return;
      nudged_ = false;
    }
    follow();
    if (auto term = agent_.term()) lead(*term);
  }
}

void ClusterControl::follow() {
  const auto snapshot = assignments_->snapshot();
  auto it = snapshot.find(assign_key(agent_.id()));
  if (it == snapshot.end()) {
    if (applied_ == 0) return;
    // The leader took this node's share away (it was cut off long enough to be replaced): its
    // replicas are orphans now.
    CSERVE_LOG(kWarning, "cluster") << "node " << agent_.id() << " has no share any more; stopping its replicas";
    applied_ = 0;
    hooks_.apply(Json{{"applications", Json::array()}});
    return;
  }
  // A share this node could not run (its library unreachable for now, say) is tried again every
  // second until it runs or another share comes.
  const auto now = std::chrono::steady_clock::now();
  const bool retry = retry_apply_ && now >= *retry_apply_;
  if (it->second.mod_revision == applied_ && !retry) return;
  applied_ = it->second.mod_revision;
  retry_apply_.reset();
  std::optional<std::string> error;
  cluster::Revision config_revision = 0;
  try {
    const Json value = Json::parse(it->second.value);
    config_revision = value.at("config_revision").get<cluster::Revision>();
    hooks_.apply(value.at("config"));
  } catch (const std::exception& e) {
    error = "node '" + agent_.id() + "' cannot run its share: " + e.what();
    if (!retry) {
      CSERVE_LOG(kError, "cluster") << *error << "; trying again every second";
    }
    retry_apply_ = now + kRetry;
  }
  MutexLock lock(mu_);
  apply_error_ = error;
  applied_config_ = config_revision;
  cv_.notify_all();
}

std::vector<Demand> ClusterControl::autoscaled(const std::vector<cluster::NodeRecord>& records, const Shares& in_force,
                                               std::chrono::steady_clock::time_point now) {
  std::vector<Demand> demands = demands_;
  std::map<DeploymentKey, Scaling> kept;
  for (Demand& d : demands) {
    if (!d.autoscaling) continue;
    double ongoing = 0;  // the load every node published, summed
    for (const cluster::NodeRecord& r : records) {
      auto app = r.load.find(d.deployment.first);
      if (app == r.load.end()) continue;
      auto dep = app->second.find(d.deployment.second);
      if (dep != app->second.end()) ongoing += dep->second;
    }
    auto known = scaling_.find(d.deployment);
    Scaling s;
    if (known != scaling_.end()) {
      s = std::move(known->second);
    } else {
      // A first deploy starts at its initial replicas; a new leader from what the plan in force runs.
      s.target = d.replicas;
      int running = 0;
      bool placed = false;
      for (const auto& [node, shares] : in_force) {
        if (auto it = shares.find(d.deployment); it != shares.end()) {
          running += it->second;
          placed = true;
        }
      }
      if (placed) s.target = running;
    }
    s.target = autoscale(*d.autoscaling, s.state, now, ongoing, s.target).target;
    d.replicas = s.target;
    kept.emplace(d.deployment, std::move(s));
  }
  scaling_ = std::move(kept);
  return demands;
}

void ClusterControl::lead(cluster::Revision term) {
  const auto now = std::chrono::steady_clock::now();
  if (term != led_term_) {
    led_term_ = term;
    led_since_ = now;
  }
  if (!config_->synced() || !assignments_->synced()) return;  // plans only from a current view
  const auto config_snapshot = config_->snapshot();
  auto c = config_snapshot.find(kClusterConfigKey);
  const cluster::Revision config_revision = c == config_snapshot.end() ? 0 : c->second.mod_revision;
  const bool retry = retry_plan_ && now >= *retry_plan_;
  if (config_revision != seen_config_ || retry) {
    // A config the leader cannot load (its library unreachable for now, say) leaves the last one
    // it could in force, says why, and is tried again every second.
    seen_config_ = config_revision;
    retry_plan_.reset();
    std::optional<std::string> error;
    try {
      Json config = nullptr;
      if (c != config_snapshot.end()) config = Json::parse(c->second.value);
      demands_ = config.is_object() ? hooks_.demands(config) : std::vector<Demand>{};
      planned_config_ = std::move(config);
      planned_revision_ = config_revision;
    } catch (const std::exception& e) {
      error = "the leader cannot plan the cluster's config (revision " + std::to_string(config_revision) +
              "; the one before stays in force): " + e.what();
      if (!retry) {
      CSERVE_LOG(kError, "cluster") << *error << "; trying again every second";
    }
      retry_plan_ = now + kRetry;
    }
    MutexLock lock(mu_);
    plan_error_ = error;
  }

  std::vector<NodeResources> nodes;
  std::set<std::string> live;
  const std::vector<cluster::NodeRecord> records = agent_.nodes();
  for (const cluster::NodeRecord& r : records) {
    nodes.push_back(offered(r));
    live.insert(r.id);
  }
  const auto assignments = assignments_->snapshot();
  const Shares in_force = shares_in(assignments);
  for (const auto& [node, shares] : in_force) {
    // A node with replicas may only be re-registering (its lease lapsed while etcd was away):
    // a new leader gives it a TTL before moving them.
    if (!live.count(node) && now - led_since_ < ttl_) return;
  }
  const std::vector<Demand> demands = autoscaled(records, in_force, now);
  const ClusterPlan plan = plan_cluster(demands, nodes, in_force);

  Json shortfalls = Json::array();
  for (const Shortfall& f : plan.shortfalls) {
    shortfalls.push_back({{"application", f.deployment.first}, {"deployment", f.deployment.second}, {"message", f.message}});
  }
  std::vector<Op> ops;
  for (const std::string& node : live) {
    static const std::map<DeploymentKey, int> kNone;
    auto s = plan.shares.find(node);
    const std::string value =
        assignment(planned_config_, planned_revision_, demands, s == plan.shares.end() ? kNone : s->second, shortfalls)
            .dump();
    auto current = assignments.find(assign_key(node));
    if (current == assignments.end() || current->second.value != value) ops.push_back(Op::put(assign_key(node), value));
  }
  for (const auto& [key, kv] : assignments) {
    if (!live.count(key.substr(std::string(kAssignPrefix).size()))) ops.push_back(Op::erase(key));
  }
  if (ops.empty()) return;
  CSERVE_LOG(kDebug, "cluster") << "term " << term << ": writing " << ops.size() << " changes for " << live.size()
                                << " live nodes";
  try {
    if (!election_.fenced(term, ops)) {
      CSERVE_LOG(kInfo, "cluster") << "node " << agent_.id() << " no longer leads (term " << term
                                   << "): its plan was not written";
    }
  } catch (const cluster::StoreError& e) {
    CSERVE_LOG(kInfo, "cluster") << "the plan was not written: " << e.what();
  }
}

}  // namespace cserve::detail
