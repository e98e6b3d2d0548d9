#include "worker/process_replica.hpp"

#include "common/asio.hpp"
#include "common/log_buffer.hpp"
#include "common/logging.hpp"
#include "wire/connection.hpp"
#include "worker/spawn.hpp"

#include <cserve/detail/call_context.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <sstream>

namespace cserve {

using wire::Frame;
using wire::FrameType;

// The worker's stdout and stderr: each line logged with the replica's fields.
struct ProcessReplica::Output {
  explicit Output(asio::io_context& io, int fd) : pipe(io, fd) {}
  asio::posix::stream_descriptor pipe;
  char buf[4096];
  std::string partial;
};

ProcessReplica::ProcessReplica(ReplicaContext context, WorkerSpec spec, asio::io_context& io,
                               std::shared_ptr<const detail::FactoryContext> sinks)
    : Replica(std::move(context)),
      spec_(std::move(spec)),
      io_(io),
      sinks_(std::move(sinks)),
      client_(std::make_shared<CallClient>(/*first_id=*/1)),
      stand_in_(remote_callable(client_, this->context().deployment)) {}

ProcessReplica::~ProcessReplica() {
  // Never leave a worker behind (a replica dropped without stop(), e.g. at shutdown).
  detail::MutexLock lock(mu_);
  if (pid_ > 0 && !exit_cause_) ::kill(pid_, SIGKILL);
  if (connection_) connection_->close();
}

pid_t ProcessReplica::pid() const {
  detail::MutexLock lock(mu_);
  return pid_;
}

std::optional<Failure> ProcessReplica::exit_cause() const {
  detail::MutexLock lock(mu_);
  return exit_cause_;
}

void ProcessReplica::start(std::optional<Json> user_config, Done done) {
  asio::post(io_, [self = shared_from_this(), config = std::move(user_config), done = std::move(done)]() mutable {
    SpawnedWorker w;
    try {
      if (self->spec_.refused) throw Error(*self->spec_.refused);
      {
        detail::MutexLock lock(self->mu_);
        if (self->stopping_) throw Error("stopped before its worker started");
      }
      w = spawn_worker(self->spec_.binary, self->spec_.args);
    } catch (const std::exception& e) {
      {
        detail::MutexLock lock(self->mu_);
        self->gone_ = Failure{ErrorCode::kUnavailable, e.what()};
        self->gone_flag_.store(true, std::memory_order_release);
        self->exit_cause_ = self->gone_;
      }
      {
        self->client_->refuse({ErrorCode::kUnavailable, "replica " + self->id() + " is not serving: " + e.what()});
      }
      return done(Failure{ErrorCode::kInternal, e.what()});
    }
    self->output_ = std::make_shared<Output>(self->io_, w.output_fd);
    self->read_output();
    wire::Hello hello;
    hello.role = "serve";
    hello.pid = ::getpid();
    auto connection = wire::WireConnection::adopt(self->io_, w.socket_fd, hello);
    // Calls the replica makes through its handles, routed here to the application's deployments.
    auto server = std::make_shared<CallServer>(
        connection, [sinks = self->sinks_](const wire::CallHeader& h, detail::Call call) {
          std::shared_ptr<detail::CallSink> sink;
          try {
            if (!sinks) throw ConfigError("its application has no deployments to call");
            sink = sinks->sink(h.deployment);
          } catch (const std::exception& e) {
            return call.reject({ErrorCode::kNotFound, e.what()});
          }
          sink->submit(std::move(call));
        });
    {
      detail::MutexLock lock(self->mu_);
      self->pid_ = w.pid;
      self->connection_ = connection;
      self->server_ = server;
    }
    self->client_->attach(connection);
    CSERVE_LOG(kInfo, "worker").fields(&self->log_fields()) << "replica " << self->id() << " starts in worker process "
                                                             << w.pid;
    std::weak_ptr<ProcessReplica> weak = self;
    connection->start(
        [weak](Frame& frame) {
          if (auto r = weak.lock()) r->on_frame(frame);
        },
        [weak](const Failure& why) {
          if (auto r = weak.lock()) r->on_closed(why);
        });
    self->hook("__start__", std::move(config), std::move(done));
    if (self->spec_.memory_limit_bytes > 0) self->watch_memory();
  });
}

namespace {

// Resident memory and CPU time of a process, from /proc; nullopt when it is gone.
std::optional<Replica::ProcessUsage> usage_of(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  const std::string dir = "/proc/" + std::to_string(pid);
  std::ifstream statm(dir + "/statm");
  long size_pages = 0, rss_pages = 0;
  if (!(statm >> size_pages >> rss_pages)) return std::nullopt;
  Replica::ProcessUsage u;
  static const long page = ::sysconf(_SC_PAGESIZE);
  static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  u.rss_bytes = static_cast<double>(rss_pages) * static_cast<double>(page);
  std::ifstream stat(dir + "/stat");
  std::string line;
  if (std::getline(stat, line)) {
    // Fields after the command (which may hold spaces): state is field 3, utime 14, stime 15.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
    }
    u.cpu_seconds = static_cast<double>(utime + stime) / ticks;
  }
  return u;
}

std::string mib(double bytes) { return std::to_string(static_cast<long long>(bytes / (1024 * 1024))) + " MiB"; }

}  // namespace

std::optional<Replica::ProcessUsage> ProcessReplica::usage() const {
  if (exit_cause()) return std::nullopt;
  return usage_of(pid());
}

void ProcessReplica::watch_memory() {
  if (exit_cause()) return;
  const pid_t pid = this->pid();
  if (auto u = usage_of(pid); u && u->rss_bytes > spec_.memory_limit_bytes) {
    {
      detail::MutexLock lock(mu_);
      killed_for_ = "its resident memory (" + mib(u->rss_bytes) + ") passed the replica's memory limit (" +
                    mib(spec_.memory_limit_bytes) + ")";
    }
    CSERVE_LOG(kError, "worker").fields(&log_fields()) << "replica " << id() << ": worker process " << pid
                                                        << " uses " << mib(u->rss_bytes) << ", over its limit of "
                                                        << mib(spec_.memory_limit_bytes) << ": killing it";
    ::kill(pid, SIGKILL);
    return;
  }
  auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
  timer->async_wait([weak = weak_from_this(), timer](boost::system::error_code) {
    if (auto self = weak.lock()) self->watch_memory();
  });
}

void ProcessReplica::reconfigure(Json user_config, Done done) { hook("__reconfigure__", std::move(user_config), std::move(done)); }

void ProcessReplica::check_health(Done done) { hook("__check_health__", std::nullopt, std::move(done)); }

void ProcessReplica::hook(std::string method, std::optional<Json> argument, Done done) {
  wire::CallHeader h;
  h.deployment = context().deployment;
  h.method = std::move(method);
  std::string arg;
  Json::to_msgpack(argument ? *argument : Json(nullptr), arg);
  client_->send_status_call(wire::encode_call(h, {std::move(arg)}), std::move(done));
}

void ProcessReplica::stop(UniqueFunction<void()> done) {
  bool ended = false;
  {
    detail::MutexLock lock(mu_);
    stopping_ = true;
    ended = exit_cause_ || pid_ <= 0;
    if (!ended) stop_done_ = std::move(done);
  }
  if (ended) return asio::post(io_, std::move(done));
  hook("__stop__", std::nullopt, [](std::optional<Failure>) {});
  // A worker that does not end by itself (a handler stuck in a loop) is terminated, then killed.
  auto timer = std::make_shared<asio::steady_timer>(io_, spec_.stop_grace);
  timer->async_wait([self = shared_from_this(), timer](boost::system::error_code) {
    const pid_t pid = self->pid();
    if (self->exit_cause()) return;
    CSERVE_LOG(kWarning, "worker").fields(&self->log_fields())
        << "replica " << self->id() << ": worker process " << pid << " did not stop; sending SIGTERM";
    ::kill(pid, SIGTERM);
    timer->expires_after(std::chrono::seconds(2));
    timer->async_wait([self, timer, pid](boost::system::error_code) {
      if (self->exit_cause()) return;
      CSERVE_LOG(kWarning, "worker").fields(&self->log_fields())
          << "replica " << self->id() << ": worker process " << pid << " ignored SIGTERM; sending SIGKILL";
      ::kill(pid, SIGKILL);
    });
  });
}

void ProcessReplica::execute(detail::Call call, UniqueFunction<void()> finished) {
  std::optional<Failure> gone;
  {
    detail::MutexLock lock(mu_);
    gone = gone_;
  }
  if (gone) {
    call.reject({ErrorCode::kUnavailable, "replica " + id() + " is not serving: " + gone->message});
    return finished();
  }
  if (call.context->cancelled()) {
    call.reject(call.context->failure());
    return finished();
  }
  detail::ScopedCall in_call(call.context);
  call.run(*stand_in_, std::move(finished));
}

// The worker's frames: answers to the calls made to it, and the calls its replica makes.
void ProcessReplica::on_frame(Frame& frame) {
  if (frame.type == FrameType::kModels) return on_models(frame.payload);
  std::shared_ptr<CallServer> server;
  {
    detail::MutexLock lock(mu_);
    server = server_;
  }
  const bool served = server->take(frame, [&server](std::uint64_t id, const wire::Call& call) {
    server->serve(id, call);
  });
  if (!served) client_->on_frame(frame);
}

// The worker's report of the multiplexed models its replica holds: a MessagePack array of
// strings. Anything else is ignored (the routers keep their last view) and logged.
void ProcessReplica::on_models(const std::string& payload) {
  Json j = Json::from_msgpack(payload.begin(), payload.end(), true, false);
  std::vector<std::string> ids;
  bool ok = j.is_array();
  for (const auto& id : ok ? j : Json::array()) {
    if (!id.is_string()) ok = false;
    if (ok) ids.push_back(id.get<std::string>());
  }
  if (!ok) {
    CSERVE_LOG(kWarning, "worker").fields(&log_fields()) << "ignored a malformed MODELS frame from the worker";
    return;
  }
  set_models(std::move(ids));
}

void ProcessReplica::on_closed(const Failure& why) {
  std::shared_ptr<CallServer> server;
  {
    detail::MutexLock lock(mu_);
    gone_ = Failure{ErrorCode::kUnavailable, "its worker process closed the connection (" + why.message + ")"};
    gone_flag_.store(true, std::memory_order_release);
    client_->refuse({ErrorCode::kUnavailable, "replica " + id() + " is not serving: " + gone_->message});
    server = server_;
  }
  if (server) server->close();  // the calls its replica made are cancelled
  reap(200);  // up to 2 s for the process to end, then SIGKILL
}

void ProcessReplica::reap(int attempts_left) {
  const pid_t pid = this->pid();
  int status = 0;
  const pid_t r = ::waitpid(pid, &status, WNOHANG);
  if (r == pid || (r < 0 && errno == ECHILD)) return ended(r == pid ? status : 0);
  if (attempts_left == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return ended(status);
  }
  auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(10));
  timer->async_wait([self = shared_from_this(), timer, attempts_left](boost::system::error_code) {
    self->reap(attempts_left - 1);
  });
}

void ProcessReplica::ended(int wait_status) {
  UniqueFunction<void()> stop_done;
  bool stopping = false;
  pid_t pid = 0;
  Failure cause;
  {
    detail::MutexLock lock(mu_);
    pid = pid_;
    cause = Failure{ErrorCode::kReplicaDied,
                    "replica " + id() + "'s worker process (pid " + std::to_string(pid) + ") " + describe_exit(wait_status)};
    if (killed_for_) cause.message += ": " + *killed_for_;
    exit_cause_ = cause;
    gone_ = cause;
    gone_flag_.store(true, std::memory_order_release);
    client_->refuse({ErrorCode::kUnavailable, "replica " + id() + " is not serving: " + cause.message});
    stop_done = std::move(stop_done_);
    stopping = stopping_;
  }
  if (!stopping) {
    CSERVE_LOG(kError, "worker").fields(&log_fields()) << cause.message;
  } else {
    CSERVE_LOG(kInfo, "worker").fields(&log_fields()) << cause.message;
  }
  client_->fail_pending({ErrorCode::kReplicaDied, cause.message + " while this call ran"});
  if (stop_done) stop_done();
}

// The worker marks its own log lines (already formatted, replica fields included, filtered by its
// log level): they are written as they are. Anything else is the user's output (a model's
// printf), written with the replica's fields whatever the log level, unless logging is off.
void ProcessReplica::output_line(std::string_view line) {
  if (!line.empty() && line.front() == '\x1e') {
    std::string own(line.substr(1));
    own.push_back('\n');
    return log::emit(own, /*urgent=*/false);
  }
  if (log::enabled(log::Level::kError)) log::write(log::Level::kInfo, "worker", line, &log_fields());
}

void ProcessReplica::read_output() {
  auto out = output_;
  out->pipe.async_read_some(asio::buffer(out->buf), [self = shared_from_this(), out](boost::system::error_code ec,
                                                                                     std::size_t n) {
    out->partial.append(out->buf, n);
    std::size_t start = 0;
    for (std::size_t nl; (nl = out->partial.find('\n', start)) != std::string::npos; start = nl + 1) {
      self->output_line(std::string_view(out->partial).substr(start, nl - start));
    }
    out->partial.erase(0, start);
    if (!ec) return self->read_output();
    if (!out->partial.empty()) self->output_line(out->partial);
    out->partial.clear();
  });
}

}  // namespace cserve
