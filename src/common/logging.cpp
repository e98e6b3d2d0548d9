#include "common/logging.hpp"

#include "common/log_buffer.hpp"

#include <cserve/detail/call_context.hpp>
#include <cserve/json.hpp>
#include <cserve/logging.hpp>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <string>

namespace cserve::log {
namespace {

template <class T, class Parse>
T from_env(const char* name, T fallback, Parse parse) {
  const char* v = std::getenv(name);
  T out = fallback;
  if (v != nullptr && !parse(v, out)) return fallback;
  return out;
}

std::atomic<Level>& current_level() {
  static std::atomic<Level> l{from_env("CSERVE_LOG_LEVEL", Level::kInfo, parse_level)};
  return l;
}

std::atomic<Encoding>& current_encoding() {
  static std::atomic<Encoding> e{from_env("CSERVE_LOG_ENCODING", Encoding::kText, parse_encoding)};
  return e;
}

std::atomic<bool>& current_access_log() {
  static std::atomic<bool> on{[] {
    const char* v = std::getenv("CSERVE_ACCESS_LOG");
    return v != nullptr && (std::string(v) == "1" || std::string(v) == "true");
  }()};
  return on;
}

thread_local const Fields* t_fields = nullptr;

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

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Appends "2026-11-26T10:00:00.123Z". The part up to the second is formatted once per second
// per thread.
void append_timestamp(std::string& out) {
  using namespace std::chrono;
  struct Cache {
    std::time_t second = -1;
    char prefix[32] = {};
    std::size_t length = 0;
  };
  thread_local Cache cache;
  const auto now = system_clock::now();
  const std::time_t t = system_clock::to_time_t(now);
  if (t != cache.second) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    cache.length = std::strftime(cache.prefix, sizeof cache.prefix, "%Y-%m-%dT%H:%M:%S", &tm);
    cache.second = t;
  }
  const int ms = static_cast<int>(duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000);
  const char millis[6] = {'.', static_cast<char>('0' + ms / 100), static_cast<char>('0' + ms / 10 % 10),
                          static_cast<char>('0' + ms % 10), 'Z', '\0'};
  out.append(cache.prefix, cache.length).append(millis, 5);
}

}  // namespace

Level level() { return current_level().load(std::memory_order_relaxed); }
void set_level(Level l) { current_level().store(l, std::memory_order_relaxed); }
bool enabled(Level l) { return l >= level() && l != Level::kOff; }
Encoding encoding() { return current_encoding().load(std::memory_order_relaxed); }
void set_encoding(Encoding e) { current_encoding().store(e, std::memory_order_relaxed); }
bool access_log() { return current_access_log().load(std::memory_order_relaxed); }
void set_access_log(bool on) { current_access_log().store(on, std::memory_order_relaxed); }

bool parse_level(std::string_view s, Level& out) {
  std::string v = lower(s);
  if (v == "debug") out = Level::kDebug;
  else if (v == "info") out = Level::kInfo;
  else if (v == "warning" || v == "warn") out = Level::kWarning;
  else if (v == "error") out = Level::kError;
  else if (v == "off") out = Level::kOff;
  else return false;
  return true;
}

bool parse_encoding(std::string_view s, Encoding& out) {
  std::string v = lower(s);
  if (v == "text") out = Encoding::kText;
  else if (v == "json") out = Encoding::kJson;
  else return false;
  return true;
}

void write(Level l, std::string_view component, std::string_view message, const Fields* fields,
           std::string_view request_id) {
  if (!fields) fields = t_fields;
  std::string id_storage;
  if (request_id.empty()) {
    if (const auto& call = detail::current_call()) {
      id_storage = call->request_id();
      request_id = id_storage;
    }
  }
  std::string line;
  if (encoding() == Encoding::kJson) {
    Json j;
    std::string stamp;
    append_timestamp(stamp);
    j["time"] = stamp;
    j["level"] = name(l);
    j["component"] = component;
    if (fields) {
      if (!fields->application.empty()) j["application"] = fields->application;
      if (!fields->deployment.empty()) j["deployment"] = fields->deployment;
      if (!fields->replica.empty()) j["replica"] = fields->replica;
    }
    if (!request_id.empty()) j["request_id"] = request_id;
    j["message"] = message;
    line = j.dump(-1, ' ', false, Json::error_handler_t::replace);
    line += '\n';
  } else {
    line.reserve(96 + message.size());
    append_timestamp(line);
    line.append(" ").append(name(l)).append(" [").append(component).append("] ");
    if (fields) {
      if (!fields->application.empty()) line.append("app=").append(fields->application).append(" ");
      if (!fields->deployment.empty()) line.append("deployment=").append(fields->deployment).append(" ");
      if (!fields->replica.empty()) line.append("replica=").append(fields->replica).append(" ");
    }
    if (!request_id.empty()) line.append("request_id=").append(request_id).append(" ");
    line.append(message).append("\n");
  }
  emit(line, /*urgent=*/l >= Level::kWarning);
}

ScopedFields::ScopedFields(const Fields* fields) : saved_(t_fields) { t_fields = fields; }
ScopedFields::~ScopedFields() { t_fields = saved_; }

}  // namespace cserve::log

namespace cserve {

void log_debug(std::string_view message) { CSERVE_LOG(kDebug, "user") << message; }
void log_info(std::string_view message) { CSERVE_LOG(kInfo, "user") << message; }
void log_warning(std::string_view message) { CSERVE_LOG(kWarning, "user") << message; }
void log_error(std::string_view message) { CSERVE_LOG(kError, "user") << message; }

}  // namespace cserve
