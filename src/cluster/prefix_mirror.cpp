#include "cluster/prefix_mirror.hpp"

#include "common/logging.hpp"

namespace cserve::cluster {

PrefixMirror::PrefixMirror(Store& store, std::string prefix, std::function<void(const Snapshot&)> on_change,
                           std::chrono::milliseconds retry)
    : store_(store), prefix_(std::move(prefix)), on_change_(std::move(on_change)), retry_(retry) {
  thread_ = std::thread([this] { run(); });
}

PrefixMirror::~PrefixMirror() {
  {
    detail::MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

PrefixMirror::Snapshot PrefixMirror::snapshot() const {
  detail::MutexLock lock(mu_);
  return copy_;
}

bool PrefixMirror::synced() const {
  detail::MutexLock lock(mu_);
  return synced_;
}

std::optional<std::string> PrefixMirror::problem() const {
  detail::MutexLock lock(mu_);
  return problem_;
}

int PrefixMirror::reads() const {
  detail::MutexLock lock(mu_);
  return reads_;
}

void PrefixMirror::run() {
  std::unique_ptr<Watch> watch;  // only this thread creates and destroys it
  for (;;) {
    const bool ok = watch != nullptr || resync(watch);
    {
      detail::MutexLock lock(mu_);
      // Without a watch, retry after the pause; with one, sleep until it ends or the mirror stops.
      cv_.wait_for(mu_, ok ? std::chrono::hours(24) : retry_, [this] {
        mu_.assert_held();
        return stopping_ || watch_ended_;
      });
      if (stopping_) break;
      if (!watch_ended_) continue;
      watch_ended_ = false;
    }
    watch.reset();  // outside mu_: its destructor waits for a callback that may be taking mu_
  }
  watch.reset();
}

bool PrefixMirror::resync(std::unique_ptr<Watch>& watch) {
  Range r;
  try {
    r = store_.get_prefix(prefix_);
  } catch (const StoreError& e) {
    detail::MutexLock lock(mu_);
    problem_ = std::string("cannot read ") + prefix_ + ": " + e.what();
    return false;
  }
  {
    detail::MutexLock lock(mu_);
    copy_.clear();
    for (KeyValue& kv : r.kvs) copy_.emplace(kv.key, std::move(kv));
    ++reads_;
  }
  try {
    watch = store_.watch_prefix(prefix_, r.revision + 1, [this](WatchUpdate u) { apply(u); });
  } catch (const StoreError& e) {
    {
      detail::MutexLock lock(mu_);
      problem_ = std::string("cannot watch ") + prefix_ + ": " + e.what();
    }
    changed();  // the copy is newer than before, though not watched yet
    return false;
  }
  {
    detail::MutexLock lock(mu_);
    synced_ = true;
    problem_.reset();
  }
  changed();
  return true;
}

void PrefixMirror::apply(const WatchUpdate& u) {
  {
    detail::MutexLock lock(mu_);
    for (const Event& e : u.events) {
      if (e.type == Event::Type::kPut) {
        copy_[e.kv.key] = e.kv;
      } else {
        copy_.erase(e.kv.key);
      }
    }
    if (u.ended) {
      synced_ = false;
      watch_ended_ = true;
      problem_ = "the watch on " + prefix_ + " ended: " + u.why;
    }
  }
  if (u.ended) {
    CSERVE_LOG(kDebug, "cluster") << "the watch on " << prefix_ << " ended (" << u.why << "); reading it again";
    cv_.notify_all();
  }
  if (!u.events.empty()) changed();
}

void PrefixMirror::changed() {
  if (!on_change_) return;
  detail::MutexLock order(notify_mu_);
  on_change_(snapshot());
}

}  // namespace cserve::cluster
