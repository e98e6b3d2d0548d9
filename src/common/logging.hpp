// logging.hpp — leveled log lines to stderr: "2026-11-26T10:00:00.123Z INFO [component] message".
// Thread-safety: log() may be called from any thread; each line is written whole.
#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace cserve::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };

// The minimum level written; from CSERVE_LOG_LEVEL (debug, info, warning, error, off) at start.
Level level();
void set_level(Level l);
bool enabled(Level l);
void write(Level l, std::string_view component, std::string_view message);

// Usage: CSERVE_LOG(kInfo, "controller") << "deployed " << name;
class Line {
 public:
  Line(Level l, std::string_view component) : level_(l), component_(component) {}
  ~Line() { write(level_, component_, stream_.str()); }
  template <class T>
  Line& operator<<(const T& v) {
    stream_ << v;
    return *this;
  }

 private:
  Level level_;
  std::string_view component_;
  std::ostringstream stream_;
};

}  // namespace cserve::log

#define CSERVE_LOG(level, component)                                  \
  if (!::cserve::log::enabled(::cserve::log::Level::level)) {         \
  } else                                                              \
    ::cserve::log::Line(::cserve::log::Level::level, component)
