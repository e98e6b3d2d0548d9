// Applications the operations tests deploy through the CLI and configs: each shows one way an
// application behaves (slow answers, a slow or failing start, a builder that throws).
#include <cserve/application.hpp>
#include <cserve/cserve.hpp>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace {

// GET /?ms=N answers after N ms, awaiting without holding a thread.
class Sleepy {
 public:
  cserve::Task<cserve::Json> operator()(const cserve::Request& req) {
    const int ms = std::stoi(req.query("ms").value_or("0"));
    co_await cserve::sleep_for(std::chrono::milliseconds(ms));
    co_return cserve::Json{{"slept_ms", ms}};
  }
};

class SlowStart {
 public:
  explicit SlowStart(double seconds) { std::this_thread::sleep_for(std::chrono::duration<double>(seconds)); }
  cserve::Json operator()() { return "started"; }
};

class BadConstructor {
 public:
  BadConstructor() { throw std::runtime_error("model file missing"); }
  cserve::Json operator()() { return nullptr; }
};

}  // namespace

// args: {"graceful_shutdown_timeout_s": S} (default 20).
CSERVE_APPLICATION(sleepy, args) {
  return cserve::deployment<Sleepy>().graceful_shutdown_timeout_s(args.value("graceful_shutdown_timeout_s", 20.0)).bind();
}

// args: {"seconds": S}: the constructor takes that long.
CSERVE_APPLICATION(slow_start, args) { return cserve::deployment<SlowStart>().bind(args.value("seconds", 1.0)); }

CSERVE_APPLICATION(bad_constructor, args) {
  (void)args;
  return cserve::deployment<BadConstructor>().bind();
}

CSERVE_APPLICATION(throwing_builder, args) {
  (void)args;
  throw std::runtime_error("builder failed on purpose");
}
