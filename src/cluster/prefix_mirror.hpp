// prefix_mirror.hpp — a local copy of every key under a prefix of the Store, kept current by a
// watch: read the prefix, then watch from the read's revision + 1, so no change is missed. When
// the watch ends (its revision was compacted away, or the store went away) the mirror reads the
// prefix again and watches from there, retrying until the store answers. Meanwhile the copy stays
// as it last was — what the data plane serves from while etcd is away — and synced() is false.
//
//   PrefixMirror nodes(store, "nodes/", [](const PrefixMirror::Snapshot& s) { ... });
//   for (const auto& [key, kv] : nodes.snapshot()) ...
//
// Thread-safety: snapshot(), synced() and problem() from any thread. `on_change` runs on the
// mirror's or the store's thread, one call at a time, after every change of the copy; it must not
// destroy the mirror.
#pragma once

#include "cluster/store.hpp"

#include <cserve/detail/mutex.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace cserve::cluster {

class PrefixMirror {
 public:
  using Snapshot = std::map<std::string, KeyValue>;

  PrefixMirror(Store& store, std::string prefix, std::function<void(const Snapshot&)> on_change = {},
               std::chrono::milliseconds retry = std::chrono::milliseconds(500));
  ~PrefixMirror();
  PrefixMirror(const PrefixMirror&) = delete;
  PrefixMirror& operator=(const PrefixMirror&) = delete;

  Snapshot snapshot() const;
  // True while a watch is running from a complete read; false before the first read succeeded and
  // while the mirror is reading again.
  bool synced() const;
  // Why the copy may be stale (the last read or watch failure), or nullopt while synced.
  std::optional<std::string> problem() const;
  // How many times the prefix was read (1 after the first read; more after a watch ended).
  int reads() const;

 private:
  void run();
  // Reads the prefix and starts the watch; false (problem_ says why) when the store did not answer.
  bool resync(std::unique_ptr<Watch>& watch);
  void apply(const WatchUpdate& u);
  void changed();

  Store& store_;
  const std::string prefix_;
  const std::function<void(const Snapshot&)> on_change_;
  const std::chrono::milliseconds retry_;

  mutable detail::Mutex mu_;
  detail::CondVar cv_;
  Snapshot copy_ CSERVE_GUARDED_BY(mu_);
  bool synced_ CSERVE_GUARDED_BY(mu_) = false;
  bool watch_ended_ CSERVE_GUARDED_BY(mu_) = false;
  bool stopping_ CSERVE_GUARDED_BY(mu_) = false;
  int reads_ CSERVE_GUARDED_BY(mu_) = 0;
  std::optional<std::string> problem_ CSERVE_GUARDED_BY(mu_);
  detail::Mutex notify_mu_;  // one on_change call at a time, in order
  std::thread thread_;
};

}  // namespace cserve::cluster
