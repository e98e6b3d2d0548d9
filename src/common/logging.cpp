#include "common/logging.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

namespace cserve::log {
namespace {

Level level_from_env() {
  const char* v = std::getenv("CSERVE_LOG_LEVEL");
  if (v == nullptr) return Level::kInfo;
  std::string s(v);
  if (s == "debug") return Level::kDebug;
  if (s == "warning") return Level::kWarning;
  if (s == "error") return Level::kError;
  if (s == "off") return Level::kOff;
  return Level::kInfo;
}

std::atomic<Level>& current() {
  static std::atomic<Level> l{level_from_env()};
  return l;
}

const char* name(Level l) {
  switch (l) {
    case Level::kDebug: return "DEBUG";
    case Level::kInfo: return "INFO";
    case Level::kWarning: return "WARNING";
    case Level::kError: return "ERROR";
    case Level::kOff: return "OFF";
  }
  return "?";
}

}  // namespace

Level level() { return current().load(std::memory_order_relaxed); }
void set_level(Level l) { current().store(l, std::memory_order_relaxed); }
bool enabled(Level l) { return l >= level() && l != Level::kOff; }

void write(Level l, std::string_view component, std::string_view message) {
  using namespace std::chrono;
  auto now = system_clock::now();
  std::time_t t = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string line;
  line.reserve(64 + message.size());
  line.append(stamp).append(".");
  char msbuf[8];
  std::snprintf(msbuf, sizeof msbuf, "%03d", static_cast<int>(ms));
  line.append(msbuf).append("Z ").append(name(l)).append(" [").append(component).append("] ");
  line.append(message).append("\n");
  std::fwrite(line.data(), 1, line.size(), stderr);  // one call: lines never interleave
}

}  // namespace cserve::log
