// logging.hpp — log lines to stderr (or a sink), as text or JSON, each carrying the application,
// deployment, replica and request id of the code that wrote it when there is one.
//
//   text: 2026-11-26T10:00:00.123Z INFO [replica] app=default deployment=Counter replica=Counter#ab12cd request_id=7f..-0000002a message
//   json: {"time":"2026-11-26T10:00:00.123Z","level":"INFO","component":"replica","application":"default",...,"message":"..."}
//
// Replicas set their fields for the code they run (ScopedFields); the request id comes from the
// current call (detail::current_call()) unless a line names one (.request(id)). Level, encoding
// and access logs come from CSERVE_LOG_LEVEL / CSERVE_LOG_ENCODING / CSERVE_ACCESS_LOG, and are
// replaced by ServeOptions::logging when a runtime starts.
// Lines go through log_buffer.hpp (batched writes to stderr; WARNING and above at once).
// Thread-safety: every function may be called from any thread; each line is written whole.
#pragma once

#include "common/log_buffer.hpp"

#include <charconv>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

namespace cserve::log {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3, kOff = 4 };
enum class Encoding { kText, kJson };

// Where a line comes from, beyond its component.
struct Fields {
  std::string_view application, deployment, replica;
};

Level level();
void set_level(Level l);
bool enabled(Level l);
Encoding encoding();
void set_encoding(Encoding e);
bool access_log();
void set_access_log(bool on);
// Parses "debug", "info", "warning", "error", "off" (any case); false for anything else.
bool parse_level(std::string_view s, Level& out);
bool parse_encoding(std::string_view s, Encoding& out);

// set_sink() and flush(): log_buffer.hpp.

// `fields`/`request_id` override the thread's own (empty: use the thread's).
void write(Level l, std::string_view component, std::string_view message, const Fields* fields = nullptr,
           std::string_view request_id = {});

// Makes `fields` the thread's for a scope (a replica around its code). `fields` must outlive it.
class ScopedFields {
 public:
  explicit ScopedFields(const Fields* fields);
  ~ScopedFields();
  ScopedFields(const ScopedFields&) = delete;
  ScopedFields& operator=(const ScopedFields&) = delete;

 private:
  const Fields* saved_;
};

// Usage: CSERVE_LOG(kInfo, "controller") << "deployed " << name;
class Line {
 public:
  Line(Level l, std::string_view component) : level_(l), component_(component) {}
  ~Line() { write(level_, component_, message_, fields_, request_id_); }
  Line& request(std::string_view id) {
    request_id_ = id;
    return *this;
  }
  Line& fields(const Fields* f) {
    fields_ = f;
    return *this;
  }
  // Strings and numbers are appended directly; anything else through its operator<<.
  template <class T>
  Line& operator<<(const T& v) {
    if constexpr (std::is_convertible_v<const T&, std::string_view>) {
      message_.append(std::string_view(v));
    } else if constexpr (std::is_same_v<T, char>) {
      message_.push_back(v);
    } else if constexpr (std::is_same_v<T, bool>) {
      message_.append(v ? "true" : "false");
    } else if constexpr (std::is_arithmetic_v<T>) {
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
      message_.append(buf, ec == std::errc() ? end : buf);
    } else {
      std::ostringstream os;
      os << v;
      message_.append(os.str());
    }
    return *this;
  }

 private:
  Level level_;
  std::string_view component_;
  const Fields* fields_ = nullptr;
  std::string_view request_id_;
  std::string message_;
};

}  // namespace cserve::log

#define CSERVE_LOG(level, component)                                  \
  if (!::cserve::log::enabled(::cserve::log::Level::level)) {         \
  } else                                                              \
    ::cserve::log::Line(::cserve::log::Level::level, component)
