// wait.hpp — bounded waits on conditions, the tests' only way to wait for something to happen
// (never a bare sleep standing for "it has happened by now").
// Thread-safety: plain functions.
#pragma once

#include "support/prometheus.hpp"

#include <chrono>
#include <map>
#include <string>
#include <thread>

namespace cserve::test {

// Polls `pred` every 5 ms until it holds (true) or `timeout` passes (false).
template <class Pred>
bool wait_until(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(15)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// This process's metrics as /metrics would show them, parsed strictly.
PromText scrape_local();

// The sum of this process's samples named `name` with `labels` (0 when there are none).
double local_metric(const std::string& name, const std::map<std::string, std::string>& labels = {});

}  // namespace cserve::test
