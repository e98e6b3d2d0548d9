// backends.hpp — the stores the cluster tests run against: MemoryStore, and EtcdStore on a real
// etcd started for the test; and a collector of watch updates.
#pragma once

#include "cluster/etcd_store.hpp"
#include "cluster/memory_store.hpp"

#include "support/etcd_server.hpp"

#include <gtest/gtest.h>

#include <mutex>
#include <optional>

namespace cserve::cluster::test_support {

// What a test gets: a store, and whatever keeps it alive.
struct Backend {
  std::shared_ptr<test::EtcdServer> etcd;
  std::unique_ptr<SteadyClock> clock;
  std::unique_ptr<Store> store;
};

struct MemoryBackend {
  static Backend make() {
    Backend b;
    b.clock = std::make_unique<SteadyClock>();
    b.store = std::make_unique<MemoryStore>(*b.clock);
    return b;
  }
};

struct EtcdBackend {
  static Backend make() {
    Backend b;
    b.etcd = std::make_shared<test::EtcdServer>();
    b.store = std::make_unique<EtcdStore>(EtcdOptions{{b.etcd->endpoint()}});
    return b;
  }
};

using Backends = ::testing::Types<MemoryBackend, EtcdBackend>;
class BackendNames {
 public:
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, MemoryBackend> ? "Memory" : "Etcd";
  }
};

// Collects a watch's updates.
struct Seen {
  std::mutex mu;
  std::vector<Event> events;
  std::optional<StoreError::Kind> ended;
  std::string why;

  Store::WatchCallback callback() {
    return [this](WatchUpdate u) {
      std::lock_guard lock(mu);
      events.insert(events.end(), u.events.begin(), u.events.end());
      if (u.ended) {
        ended = u.ended;
        why = u.why;
      }
    };
  }
  std::size_t count() {
    std::lock_guard lock(mu);
    return events.size();
  }
  std::vector<Event> all() {
    std::lock_guard lock(mu);
    return events;
  }
  bool has_ended() {
    std::lock_guard lock(mu);
    return ended.has_value();
  }
};

}  // namespace cserve::cluster::test_support
