#include "common/logging.hpp"

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
#include <mutex>
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

std::mutex g_sink_mu;
std::shared_ptr<const std::function<void(std::string_view)>> g_sink;  // null: stderr

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

std::string timestamp() {
  using namespace std::chrono;
  auto now = system_clock::now();
  std::time_t t = system_clock::to_time_t(now);
  auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[40];
  std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>(ms));
  return stamp;
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

void set_sink(std::function<void(std::string_view)> sink) {
  std::lock_guard lock(g_sink_mu);
  g_sink = sink ? std::make_shared<const std::function<void(std::string_view)>>(std::move(sink)) : nullptr;
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
    j["time"] = timestamp();
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
    line.append(timestamp()).append(" ").append(name(l)).append(" [").append(component).append("] ");
    if (fields) {
      if (!fields->application.empty()) line.append("app=").append(fields->application).append(" ");
      if (!fields->deployment.empty()) line.append("deployment=").append(fields->deployment).append(" ");
      if (!fields->replica.empty()) line.append("replica=").append(fields->replica).append(" ");
    }
    if (!request_id.empty()) line.append("request_id=").append(request_id).append(" ");
    line.append(message).append("\n");
  }
  std::shared_ptr<const std::function<void(std::string_view)>> sink;
  {
    std::lock_guard lock(g_sink_mu);
    sink = g_sink;
  }
  if (sink) return (*sink)(line);
  std::fwrite(line.data(), 1, line.size(), stderr);  // one call: lines never interleave
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
