// load.hpp — a bounded load generator for integration tests: N keep-alive connections (to
// 127.0.0.1 unless told another loopback address), each sending GET `target` back to back on
// one background thread, until stop() or `max_duration`.
// Thread-safety: start() and stop() from the owner thread; counters are read after stop().
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

namespace cserve::test {

struct LoadStats {
  long responses = 0;
  std::map<int, long> by_status;
  long connection_errors = 0;  // connect, read or write failures, and unexpected closes
  long ok() const {
    auto it = by_status.find(200);
    return it == by_status.end() ? 0 : it->second;
  }
  long failed() const { return responses - ok() + connection_errors; }
};

class LoadGenerator {
 public:
  LoadGenerator(int port, std::string target, int connections,
                std::chrono::seconds max_duration = std::chrono::seconds(60), std::string host = "127.0.0.1");
  ~LoadGenerator();
  void start();
  LoadStats stop();
  long responses_so_far() const { return responses_.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  std::atomic<long> responses_{0};
};

}  // namespace cserve::test
