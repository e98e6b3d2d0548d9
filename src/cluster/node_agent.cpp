#include "cluster/node_agent.hpp"

#include "common/logging.hpp"

#include <utility>

namespace cserve::cluster {
namespace {

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

NodeAgent::NodeAgent(Store& store, NodeAgentOptions options)
    : store_(store), options_(std::move(options)), started_ms_(unix_ms()) {
  const auto retry = std::chrono::duration_cast<std::chrono::milliseconds>(options_.ttl) / 3;
  nodes_ = std::make_unique<PrefixMirror>(store_, kNodesPrefix, nullptr, retry);
  election_key_ = std::make_unique<PrefixMirror>(
      store_, kControllerElection,
      [this](const PrefixMirror::Snapshot&) {
        {
          detail::MutexLock lock(mu_);
          nudged_ = true;
        }
        cv_.notify_all();
      },
      retry);
  thread_ = std::thread([this] { run(); });
}

NodeAgent::~NodeAgent() {
  stop();
  election_key_.reset();  // before mu_ and cv_, which its callback uses
  nodes_.reset();
}

void NodeAgent::refresh() {
  detail::MutexLock lock(mu_);
  refresh_ = true;
  cv_.notify_all();
}

void NodeAgent::stop() {
  {
    detail::MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool NodeAgent::wait_registered(std::chrono::milliseconds timeout) {
  detail::MutexLock lock(mu_);
  return cv_.wait_for(mu_, timeout, [this] {
    mu_.assert_held();
    return state_ == State::kRegistered || stopping_;
  }) && state_ == State::kRegistered;
}

NodeAgent::State NodeAgent::state() const {
  detail::MutexLock lock(mu_);
  return state_;
}

std::optional<std::string> NodeAgent::problem() const {
  detail::MutexLock lock(mu_);
  return problem_;
}

int NodeAgent::lease_losses() const {
  detail::MutexLock lock(mu_);
  return lease_losses_;
}

std::optional<std::string> NodeAgent::leader() const {
  if (!election_key_) return std::nullopt;
  const auto snapshot = election_key_->snapshot();
  auto it = snapshot.find(kControllerElection);
  if (it == snapshot.end()) return std::nullopt;
  return it->second.value;
}

std::optional<Revision> NodeAgent::term() const {
  detail::MutexLock lock(mu_);
  if (term_ == 0 || state_ != State::kRegistered) return std::nullopt;
  return term_;
}

bool NodeAgent::leading() const { return state() == State::kRegistered && leader() == options_.record.id; }

std::vector<NodeRecord> NodeAgent::nodes() const {
  std::vector<NodeRecord> out;
  if (!nodes_) return out;
  for (const auto& [key, kv] : nodes_->snapshot()) {
    try {
      out.push_back(decode_node(kv.value));
    } catch (const Error& e) {
      CSERVE_LOG(kDebug, "cluster") << key << " ignored: " << e.what();
    }
  }
  return out;
}

std::optional<std::string> NodeAgent::nodes_problem() const { return nodes_ ? nodes_->problem() : std::nullopt; }

void NodeAgent::set_problem(std::optional<std::string> why) {
  detail::MutexLock lock(mu_);
  problem_ = std::move(why);
}

NodeRecord NodeAgent::current_record() {
  NodeRecord r = options_.record;
  r.started_ms = started_ms_;
  r.heartbeat_ms = unix_ms();
  if (options_.usage) {
    NodeUsage u = options_.usage();
    r.available = std::move(u.available);
    r.replicas = u.replicas;
    r.serving = std::move(u.serving);
    r.load = std::move(u.load);
  } else {
    r.available = r.resources;
  }
  return r;
}

void NodeAgent::run() {
  const auto period = std::chrono::duration_cast<std::chrono::milliseconds>(options_.ttl) / 3;
  auto next_beat = std::chrono::steady_clock::now();
  bool registered = false;
  bool nudged = false;
  bool refresh = false;
  for (;;) {
    if (!registered) {
      registered = register_node();
      next_beat = std::chrono::steady_clock::now() + period;
      if (registered) {
        detail::MutexLock lock(mu_);
        state_ = State::kRegistered;
        cv_.notify_all();
      }
    } else if (refresh || std::chrono::steady_clock::now() >= next_beat) {
      heartbeat();
      next_beat = std::chrono::steady_clock::now() + period;
    } else if (nudged) {
      lead();
    }
    std::string lost;
    {
      detail::MutexLock lock(mu_);
      cv_.wait_for(mu_, next_beat - std::chrono::steady_clock::now(), [this] {
        mu_.assert_held();
        return stopping_ || lost_ || nudged_ || refresh_;
      });
      if (stopping_) break;
      nudged = std::exchange(nudged_, false);
      refresh = std::exchange(refresh_, false);
      if (!lost_) continue;
      lost = *std::exchange(lost_, std::nullopt);
      state_ = State::kRegistering;
      problem_ = "the lease was lost (" + lost + "); registering again";
      ++lease_losses_;
    }
    registered = false;
    keeper_.reset();  // joins the keeper's thread
    {
      // The keeper may have found the same loss meanwhile (when a heartbeat found it first): one
      // lease, one loss.
      detail::MutexLock lock(mu_);
      lost_.reset();
    }
    election_.reset();
    lease_ = 0;
    {
      detail::MutexLock lock(mu_);
      term_ = 0;
    }
    CSERVE_LOG(kWarning, "cluster") << "node " << options_.record.id << " lost its lease (" << lost
                                    << "); registering again";
    if (options_.on_lost) options_.on_lost(lost);
  }
  keeper_.reset();
  if (lease_ != 0) {
    try {
      store_.revoke_lease(lease_);  // the node leaves at once, and the lead passes on
    } catch (const StoreError& e) {
      CSERVE_LOG(kInfo, "cluster") << "node " << options_.record.id << " could not revoke its lease: " << e.what();
    }
  }
  detail::MutexLock lock(mu_);
  state_ = State::kStopped;
  cv_.notify_all();
}

bool NodeAgent::register_node() {
  const std::string key = node_key(options_.record.id);
  LeaseId lease = 0;
  try {
    lease = store_.grant_lease(options_.ttl);
    const TxnResult r = store_.txn({Compare::missing(key)}, {Op::put(key, encode(current_record()), lease)});
    if (!r.succeeded) {
      std::string holder;
      Range now = store_.get(key);
      if (!now.kvs.empty()) {
        try {
          const NodeRecord other = decode_node(now.kvs[0].value);
          holder = " (at " + other.ip + ", pid " + std::to_string(other.pid) + ")";
        } catch (const Error&) {
        }
      }
      store_.revoke_lease(lease);
      set_problem("the node name '" + options_.record.id + "' is held by a live node" + holder +
                  "; waiting for its lease to lapse");
      return false;
    }
    created_ = r.revision;
  } catch (const StoreError& e) {
    if (lease != 0) {
      try {
        store_.revoke_lease(lease);
      } catch (const StoreError&) {
      }
    }
    set_problem(std::string("cannot register with the cluster store: ") + e.what());
    return false;
  }
  lease_ = lease;
  election_ = std::make_unique<Election>(store_, kControllerElection, options_.record.id, lease);
  keeper_ = std::make_unique<LeaseKeeper>(store_, lease, options_.ttl, [this](const std::string& why) {
    {
      detail::MutexLock lock(mu_);
      lost_ = why;
    }
    cv_.notify_all();
  });
  set_problem(std::nullopt);
  CSERVE_LOG(kInfo, "cluster") << "node " << options_.record.id << " registered at " << key << " (lease " << lease
                               << ", TTL " << options_.ttl.count() << " s)";
  lead();
  return true;
}

void NodeAgent::heartbeat() {
  const std::string key = node_key(options_.record.id);
  try {
    const TxnResult r = store_.txn({Compare::create_revision_is(key, created_)},
                                   {Op::put(key, encode(current_record()), lease_)});
    if (!r.succeeded) {
      detail::MutexLock lock(mu_);
      lost_ = key + " is gone (its lease ended)";
      return;
    }
    set_problem(std::nullopt);
  } catch (const StoreError& e) {
    if (e.kind() == StoreError::Kind::kNoLease) {
      detail::MutexLock lock(mu_);
      lost_ = std::string("the store no longer has the lease: ") + e.what();
      return;
    }
    set_problem(std::string("heartbeat failed: ") + e.what());
    return;
  }
  lead();
}

void NodeAgent::lead() {
  if (!election_) return;
  try {
    const std::optional<Revision> term = election_->try_lead();
    detail::MutexLock lock(mu_);
    if (term && *term != term_) {
      CSERVE_LOG(kInfo, "cluster") << "node " << options_.record.id << " leads the controllers (term " << *term << ")";
    }
    term_ = term.value_or(0);
  } catch (const StoreError& e) {
    CSERVE_LOG(kDebug, "cluster") << "node " << options_.record.id << " could not stand for leader: " << e.what();
  }
}

}  // namespace cserve::cluster
