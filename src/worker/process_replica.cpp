#include "worker/process_replica.hpp"

#include "common/asio.hpp"
#include "common/log_buffer.hpp"
#include "common/logging.hpp"
#include "wire/bytes.hpp"
#include "wire/connection.hpp"
#include "wire/http_codec.hpp"
#include "worker/spawn.hpp"

#include <cserve/detail/call_context.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <deque>
#include <fstream>
#include <sstream>

namespace cserve {
namespace {

using wire::Frame;
using wire::FrameType;

std::exception_ptr error_of(const Failure& f) { return to_exception(f); }

// An ERROR frame's failure, or why its payload is not one.
Failure failure_in(const Frame& frame) {
  auto e = wire::decode_error(frame.payload);
  if (auto* r = std::get_if<wire::RemoteError>(&e)) return r->failure;
  return std::get<Failure>(e);
}

Failure unexpected(const Frame& frame) {
  return {ErrorCode::kInternal, std::string("the worker answered with an unexpected ") +
                                    std::string(wire::to_string(frame.type)) + " frame"};
}

// __start__, __reconfigure__, __check_health__, __stop__: RESULT or ERROR.
class HookCall final : public ProcessReplica::Pending {
 public:
  explicit HookCall(Replica::Done done) : done_(std::move(done)) {}
  bool on_frame(Frame& frame) override {
    if (frame.type == FrameType::kResult) {
      done_(std::nullopt);
    } else {
      done_(frame.type == FrameType::kError ? failure_in(frame) : unexpected(frame));
    }
    return true;
  }
  void on_failure(const Failure& why) override { done_(why); }

 private:
  Replica::Done done_;
};

// A call by name with JSON arguments: the result as MessagePack.
class ValueCall final : public ProcessReplica::Pending {
 public:
  explicit ValueCall(detail::JsonDone done) : done_(std::move(done)) {}
  bool on_frame(Frame& frame) override {
    if (frame.type == FrameType::kResult) {
      Json j = Json::from_msgpack(frame.payload.begin(), frame.payload.end(), true, false);
      if (j.is_discarded()) {
        done_({}, error_of({ErrorCode::kInternal, "the worker's result is not MessagePack"}));
      } else {
        done_(std::move(j), nullptr);
      }
    } else {
      done_({}, error_of(frame.type == FrameType::kError ? failure_in(frame) : unexpected(frame)));
    }
    return true;
  }
  void on_failure(const Failure& why) override { done_({}, error_of(why)); }

 private:
  detail::JsonDone done_;
};

// A typed call: the result as its codec's bytes.
class BytesCall final : public ProcessReplica::Pending {
 public:
  explicit BytesCall(detail::BytesDone done) : done_(std::move(done)) {}
  bool on_frame(Frame& frame) override {
    if (frame.type == FrameType::kResult) {
      done_(std::move(frame.payload), nullptr);
    } else {
      done_({}, error_of(frame.type == FrameType::kError ? failure_in(frame) : unexpected(frame)));
    }
    return true;
  }
  void on_failure(const Failure& why) override { done_({}, error_of(why)); }

 private:
  detail::BytesDone done_;
};

// The chunks of a streamed HTTP answer, pulled one credit at a time from the worker.
class RemoteChunks final : public detail::ChunkSource {
 public:
  RemoteChunks(std::weak_ptr<ProcessReplica> replica, std::uint64_t call_id, std::optional<std::string> first)
      : replica_(std::move(replica)), call_id_(call_id) {
    detail::MutexLock lock(mu_);
    if (first) {
      items_.push_back(std::move(*first));
    } else {
      ended_ = true;
    }
  }

  void pull(Callback cb) override {
    std::optional<std::string> item;
    std::exception_ptr error;
    {
      detail::MutexLock lock(mu_);
      if (items_.empty() && !ended_) {
        waiting_ = std::move(cb);
      } else {
        if (!items_.empty()) {
          item = std::move(items_.front());
          items_.pop_front();
        } else {
          error = error_;
        }
      }
    }
    if (!cb) {  // waiting: grant the worker one more item
      std::string credit;
      wire::put_u32(credit, 1);
      if (auto r = replica_.lock()) r->send_frame(static_cast<int>(FrameType::kStreamCredit), call_id_, credit);
      return;
    }
    cb(std::move(item), error);
  }

  void cancel() override {
    {
      detail::MutexLock lock(mu_);
      if (ended_) return;
      ended_ = true;
    }
    if (auto r = replica_.lock()) r->send_frame(static_cast<int>(FrameType::kCancel), call_id_, "");
  }

  void push(std::string item) {
    Callback cb;
    {
      detail::MutexLock lock(mu_);
      if (!waiting_) {
        items_.push_back(std::move(item));
        return;
      }
      cb = std::move(waiting_);
    }
    cb(std::move(item), nullptr);
  }

  void end(std::exception_ptr error) {
    Callback cb;
    {
      detail::MutexLock lock(mu_);
      ended_ = true;
      error_ = error;
      cb = std::move(waiting_);
    }
    if (cb) cb(std::nullopt, error);
  }

 private:
  const std::weak_ptr<ProcessReplica> replica_;
  const std::uint64_t call_id_;
  detail::Mutex mu_;
  std::deque<std::string> items_ CSERVE_GUARDED_BY(mu_);
  bool ended_ CSERVE_GUARDED_BY(mu_) = false;
  std::exception_ptr error_ CSERVE_GUARDED_BY(mu_);
  Callback waiting_ CSERVE_GUARDED_BY(mu_);
};

// An HTTP request: RESULT (the response), or HTTP_HEAD then STREAM_ITEMs and STREAM_END/ERROR.
class HttpCall final : public ProcessReplica::Pending {
 public:
  HttpCall(detail::OutcomeCallback done, std::weak_ptr<ProcessReplica> replica)
      : done_(std::move(done)), replica_(std::move(replica)) {}

  bool on_frame(Frame& frame) override {
    if (chunks_) return on_stream_frame(frame);
    switch (frame.type) {
      case FrameType::kResult: {
        auto r = wire::decode_response(frame.payload);
        if (auto* f = std::get_if<Failure>(&r)) return fail(*f);
        done_(detail::HandlerOutcome{std::move(std::get<Response>(r)), nullptr, nullptr});
        return true;
      }
      case FrameType::kHttpHead: {
        wire::ByteReader in(frame.payload);
        auto head_len = in.u32();
        auto head_bytes = head_len ? in.bytes(*head_len) : std::nullopt;
        auto has_first = in.bytes(1);
        if (!head_bytes || !has_first) return fail({ErrorCode::kInternal, "malformed HTTP_HEAD from the worker"});
        auto head = wire::decode_response(*head_bytes);
        if (auto* f = std::get_if<Failure>(&head)) return fail(*f);
        std::optional<std::string> first;
        if ((*has_first)[0] != 0) first = std::string(in.rest());
        const bool empty = !first;
        chunks_ = std::make_shared<RemoteChunks>(replica_, frame.call_id, std::move(first));
        done_(detail::HandlerOutcome{std::move(std::get<Response>(head)), nullptr, chunks_});
        return empty;
      }
      case FrameType::kError:
        return fail(failure_in(frame));
      default:
        return fail(unexpected(frame));
    }
  }

  void on_failure(const Failure& why) override {
    if (chunks_) {
      chunks_->end(error_of(why));
    } else {
      done_(detail::HandlerOutcome{{}, error_of(why), nullptr});
    }
  }

 private:
  bool fail(const Failure& why) {
    on_failure(why);
    return true;
  }
  bool on_stream_frame(Frame& frame) {
    switch (frame.type) {
      case FrameType::kStreamItem:
        chunks_->push(std::move(frame.payload));
        return false;
      case FrameType::kStreamEnd:
        chunks_->end(nullptr);
        return true;
      case FrameType::kError:
        chunks_->end(error_of(failure_in(frame)));
        return true;
      default:
        chunks_->end(error_of(unexpected(frame)));
        return true;
    }
  }

  detail::OutcomeCallback done_;
  const std::weak_ptr<ProcessReplica> replica_;
  std::shared_ptr<RemoteChunks> chunks_;
};

wire::CallHeader header_for(const ReplicaContext& ctx, std::string method, wire::CallKind kind) {
  wire::CallHeader h;
  h.deployment = ctx.deployment;
  h.method = std::move(method);
  h.kind = kind;
  if (auto call = detail::current_call()) {
    h.request_id = call->request_id();
    if (call->deadline() != detail::CallContext::TimePoint::max()) {
      h.deadline_ms = std::max<std::int64_t>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(call->deadline() - std::chrono::steady_clock::now())
                 .count());
    }
  }
  return h;
}

// What the router's Call runs against: each operation becomes a CALL to the worker.
class StandIn final : public detail::ReplicaCallable {
 public:
  explicit StandIn(ProcessReplica& replica) : replica_(replica) {}

  void handle(Request& req, detail::OutcomeCallback done) override {
    wire::CallHeader h = header_for(replica_.context(), "__http__", wire::CallKind::kHttp);
    h.request_id = req.request_id();
    send(wire::encode_call(h, {wire::encode_request(req)}),
         std::make_unique<HttpCall>(std::move(done), replica_.weak_from_this()));
  }

  void call_method(const std::string& name, Json args, detail::JsonDone done) override {
    std::string bytes;
    Json::to_msgpack(args, bytes);
    send(wire::encode_call(header_for(replica_.context(), name, wire::CallKind::kValue), {std::move(bytes)}),
         std::make_unique<ValueCall>(std::move(done)));
  }

  void call_encoded(const std::string& name, std::vector<std::string> args, detail::BytesDone done) override {
    send(wire::encode_call(header_for(replica_.context(), name, wire::CallKind::kTyped), args),
         std::make_unique<BytesCall>(std::move(done)));
  }

  bool in_other_process() const override { return true; }

  Stream<Json> open_stream(const std::string& name, const Json&) override {
    throw Error("deployment '" + replica_.context().deployment + "' runs in a worker process; streaming method '" +
                    name + "' cannot be called by name across processes yet (call it over HTTP)",
                ErrorCode::kInvalidArgument);
  }
  void reconfigure(const Json&) override {}   // the controller reconfigures through the replica
  void check_health() override {}             // likewise
  void* object() override {  // only typed stream calls get here (value calls are encoded)
    throw Error("deployment '" + replica_.context().deployment +
                    "' runs in a worker process: a typed stream call cannot reach it yet (stream over HTTP, or "
                    "give it isolation 'thread')",
                ErrorCode::kInvalidArgument);
  }

 private:
  void send(std::string payload, std::unique_ptr<ProcessReplica::Pending> pending) {
    const std::uint64_t id = replica_.send_call(std::move(payload), std::move(pending));
    auto call = detail::current_call();
    if (id != 0 && call) {
      call->on_cancel([weak = replica_.weak_from_this(), id] {
        if (auto r = weak.lock()) r->send_frame(static_cast<int>(FrameType::kCancel), id, "");
      });
    }
  }

  ProcessReplica& replica_;
};

}  // namespace

// The worker's stdout and stderr: each line logged with the replica's fields.
struct ProcessReplica::Output {
  explicit Output(asio::io_context& io, int fd) : pipe(io, fd) {}
  asio::posix::stream_descriptor pipe;
  char buf[4096];
  std::string partial;
};

ProcessReplica::ProcessReplica(ReplicaContext context, WorkerSpec spec, asio::io_context& io)
    : Replica(std::move(context)), spec_(std::move(spec)), io_(io), stand_in_(std::make_unique<StandIn>(*this)) {}

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
      return done(Failure{ErrorCode::kInternal, e.what()});
    }
    self->output_ = std::make_shared<Output>(self->io_, w.output_fd);
    self->read_output();
    wire::Hello hello;
    hello.role = "serve";
    hello.pid = ::getpid();
    auto connection = wire::WireConnection::adopt(self->io_, w.socket_fd, hello);
    {
      detail::MutexLock lock(self->mu_);
      self->pid_ = w.pid;
      self->connection_ = connection;
    }
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
  send_call(wire::encode_call(h, {std::move(arg)}), std::make_unique<HookCall>(std::move(done)));
}

void ProcessReplica::stop(UniqueFunction<void()> done) {
  bool ended = false;
  {
    detail::MutexLock lock(mu_);
    stopping_ = true;
    ended = exit_cause_ || pid_ <= 0;
    if (!ended) stop_done_ = std::move(done);
  }
  if (ended) return done();
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

std::uint64_t ProcessReplica::send_call(std::string payload, std::unique_ptr<Pending> pending) {
  std::uint64_t call_id = 0;
  std::shared_ptr<wire::WireConnection> connection;
  std::optional<Failure> gone;
  {
    detail::MutexLock lock(mu_);
    if (gone_ || !connection_) {
      gone = gone_.value_or(Failure{ErrorCode::kUnavailable, "its worker has not started"});
    } else {
      call_id = next_call_id_;
      next_call_id_ += 2;
      pending_.emplace(call_id, std::move(pending));
      connection = connection_;
    }
  }
  if (gone) {
    pending->on_failure({ErrorCode::kUnavailable, "replica " + id() + " is not serving: " + gone->message});
    return 0;
  }
  connection->send(FrameType::kCall, call_id, payload);
  return call_id;
}

void ProcessReplica::send_frame(int type, std::uint64_t call_id, std::string_view payload) {
  std::shared_ptr<wire::WireConnection> connection;
  {
    detail::MutexLock lock(mu_);
    connection = connection_;
  }
  if (connection) connection->send(static_cast<FrameType>(type), call_id, payload);
}

void ProcessReplica::on_frame(Frame& frame) {
  Pending* p = nullptr;
  {
    detail::MutexLock lock(mu_);
    auto it = pending_.find(frame.call_id);
    if (it == pending_.end()) return;  // a call that ended (e.g. cancelled): late frames are dropped
    p = it->second.get();
  }
  // Only this thread (the I/O thread) erases entries, so `p` stays valid while it runs.
  if (p->on_frame(frame)) {
    std::unique_ptr<Pending> ended;
    detail::MutexLock lock(mu_);
    auto it = pending_.find(frame.call_id);
    if (it != pending_.end()) {
      ended = std::move(it->second);
      pending_.erase(it);
    }
  }
}

void ProcessReplica::on_closed(const Failure& why) {
  {
    detail::MutexLock lock(mu_);
    gone_ = Failure{ErrorCode::kUnavailable, "its worker process closed the connection (" + why.message + ")"};
    gone_flag_.store(true, std::memory_order_release);
  }
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
  std::map<std::uint64_t, std::unique_ptr<Pending>> pending;
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
    pending.swap(pending_);
    stop_done = std::move(stop_done_);
    stopping = stopping_;
  }
  if (!stopping) {
    CSERVE_LOG(kError, "worker").fields(&log_fields()) << cause.message;
  } else {
    CSERVE_LOG(kInfo, "worker").fields(&log_fields()) << cause.message;
  }
  Failure in_flight{ErrorCode::kReplicaDied, cause.message + " while this call ran"};
  for (auto& [id, p] : pending) p->on_failure(in_flight);
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
