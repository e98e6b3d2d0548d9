#include "runtime/worker_host.hpp"

#include "common/asio.hpp"
#include "common/log_buffer.hpp"
#include "common/logging.hpp"
#include "config/app_loader.hpp"
#include "proxy/http_call.hpp"
#include "replica/local_replica.hpp"
#include "wire/bytes.hpp"
#include "wire/connection.hpp"
#include "wire/http_codec.hpp"
#include "worker/spawn.hpp"

#include <cserve/detail/call_context.hpp>
#include <cserve/detail/mutex.hpp>

#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <thread>

namespace cserve {
namespace {

using wire::Frame;
using wire::FrameType;

// A replica in a worker has no bound deployments to call (yet): its constructor is told so.
class NoSinks final : public detail::FactoryContext {
 public:
  explicit NoSinks(std::string deployment) : deployment_(std::move(deployment)) {}
  std::shared_ptr<detail::CallSink> sink(const std::string& child) const override {
    throw ConfigError("deployment '" + deployment_ + "' runs in a worker process (isolation: process) and cannot call "
                      "deployment '" + child + "' from there yet: give '" + deployment_ + "' isolation 'thread', "
                      "or isolate '" + child + "' instead");
  }

 private:
  std::string deployment_;
};

// The replica's strand in a worker is the worker's one I/O thread: a frame is read, its call runs
// and its answer is written by the same thread, with no hand-off (a worker hosts one replica, whose
// calls are serialised anyway). A handler that blocks holds back the frames after it, as a busy
// strand would.
class IoStrand final : public Strand {
 public:
  explicit IoStrand(asio::io_context& io) : io_(io) {}
  void post(UniqueFunction<void()> fn) override { asio::post(io_, std::move(fn)); }
  void post_after(std::chrono::steady_clock::duration delay, UniqueFunction<void()> fn) override {
    auto timer = std::make_shared<asio::steady_timer>(io_, delay);
    timer->async_wait([timer, fn = std::move(fn)](boost::system::error_code ec) mutable {
      if (!ec) fn();
    });
  }

 private:
  asio::io_context& io_;
};

std::string msgpack_of(const Json& j) {
  std::string out;
  Json::to_msgpack(j, out);
  return out;
}

class WorkerHost final : public AnswerSink, public std::enable_shared_from_this<WorkerHost> {
 public:
  WorkerHost(const WorkerArgs& args, asio::io_context& io) : args_(args) {
    try {
      Application app = load_application(args.library + ":" + args.application, args.args);
      for (const auto& d : app.deployments()) {
        if (d.options.name == args.deployment) def_ = d;
      }
      if (!def_) load_error_ = "application '" + args.application + "' has no deployment '" + args.deployment + "'";
    } catch (const std::exception& e) {
      load_error_ = std::string("the worker could not load the application: ") + e.what();
    }
    ReplicaContext ctx{args.app_name, args.deployment, args.replica_id, args.gpu_ids, args.resources};
    LocalReplica::Maker maker;
    if (def_) {
      maker = [factory = def_->factory, sinks = NoSinks(args.deployment)] { return factory(sinks); };
    }
    replica_ = std::make_shared<LocalReplica>(std::move(ctx), std::make_unique<IoStrand>(io), std::move(maker));
  }

  void start(asio::io_context& io) {
    wire::Hello hello;
    hello.role = "worker";
    hello.pid = ::getpid();
    connection_ = wire::WireConnection::adopt(io, kWorkerSocketFd, hello);
    std::weak_ptr<WorkerHost> weak = shared_from_this();
    connection_->start(
        [weak](Frame& f) {
          if (auto h = weak.lock()) h->on_frame(f);
        },
        [weak](const Failure& why) {
          if (auto h = weak.lock()) h->closed(why);
        });
  }

  // Blocks until the connection has ended; the exit status.
  int wait() {
    detail::MutexLock lock(exit_mu_);
    exit_cv_.wait(exit_mu_, [this] {
      exit_mu_.assert_held();
      return exit_code_.has_value();
    });
    return *exit_code_;
  }

  void post_answer(std::uint64_t id, Response answer) override {
    forget(id);
    connection_->send(FrameType::kResult, id, wire::encode_response(answer));
  }

  void post_stream(std::uint64_t id, Response head, std::optional<std::string> first,
                   std::shared_ptr<detail::ChunkSource> source, detail::UniqueFunction<void()> finished) override {
    std::string payload;
    const std::string head_bytes = wire::encode_response(head);
    wire::put_u32(payload, static_cast<std::uint32_t>(head_bytes.size()));
    payload += head_bytes;
    payload.push_back(first ? 1 : 0);
    if (first) payload += *first;
    if (first) {
      detail::MutexLock lock(mu_);
      streams_[id] = Pumped{std::move(source), std::move(finished)};
    }
    connection_->send(FrameType::kHttpHead, id, payload);
    if (!first) {
      forget(id);
      finished();
    }
  }

 private:
  struct Pumped {
    std::shared_ptr<detail::ChunkSource> source;
    detail::UniqueFunction<void()> finished;
    std::uint32_t credits = 0;
    bool pulling = false;
  };

  void on_frame(Frame& frame) {
    switch (frame.type) {
      case FrameType::kCall: {
        auto call = wire::decode_call(frame.payload);
        if (auto* f = std::get_if<Failure>(&call)) return fail(frame.call_id, *f);
        return on_call(frame.call_id, std::get<wire::Call>(call));
      }
      case FrameType::kCancel:
        return cancel(frame.call_id);
      case FrameType::kStreamCredit: {
        wire::ByteReader in(frame.payload);
        auto n = in.u32();
        if (n) credit(frame.call_id, *n);
        return;
      }
      default:
        return;  // nothing else is addressed to a worker; ignored
    }
  }

  void on_call(std::uint64_t id, const wire::Call& call) {
    const auto& h = call.header;
    auto argument = [&]() -> Json {
      if (call.arguments.empty()) return nullptr;
      Json j = Json::from_msgpack(call.arguments[0].begin(), call.arguments[0].end(), true, false);
      return j.is_discarded() ? Json(nullptr) : j;
    };
    if (h.method == "__start__") {
      if (load_error_) return fail(id, {ErrorCode::kInternal, *load_error_});
      Json config = argument();
      return replica_->start(config.is_null() ? std::nullopt : std::optional<Json>(config), hook_done(id));
    }
    if (h.method == "__reconfigure__") return replica_->reconfigure(argument(), hook_done(id));
    if (h.method == "__check_health__") return replica_->check_health(hook_done(id));
    if (h.method == "__stop__") {
      return replica_->stop([self = shared_from_this(), id] {
        self->stopped_ = true;
        self->connection_->send(FrameType::kResult, id, "");
        self->connection_->close(/*flush=*/true);
      });
    }
    auto context = std::make_shared<detail::CallContext>(
        h.request_id, h.deadline_ms ? std::chrono::steady_clock::now() + std::chrono::milliseconds(*h.deadline_ms)
                                    : detail::CallContext::TimePoint::max());
    {
      detail::MutexLock lock(mu_);
      contexts_[id] = context;
    }
    if (h.kind == wire::CallKind::kHttp) {
      if (call.arguments.size() != 1) return fail(id, {ErrorCode::kInvalidArgument, "an http call has one argument"});
      auto request = wire::decode_request(call.arguments[0]);
      if (auto* f = std::get_if<Failure>(&request)) return fail(id, *f);
      return replica_->execute(make_http_call(shared_from_this(), id, std::move(std::get<Request>(request)), context),
                               [] {});
    }
    if (h.kind == wire::CallKind::kTyped) return run_typed(id, call, context);
    if (h.kind != wire::CallKind::kValue) {
      return fail(id, {ErrorCode::kInvalidArgument, "streaming calls by name are not served by workers yet"});
    }
    detail::Call c;
    c.context = context;
    c.run = [self = shared_from_this(), id, name = h.method, args = argument(), rid = h.request_id](
                detail::ReplicaCallable& target, detail::UniqueFunction<void()> done) mutable {
      target.call_method(name, std::move(args), [self, id, name, rid, done = std::move(done)](
                                                    Json result, std::exception_ptr error) mutable {
        done();
        if (error) return self->fail(id, describe_handler_failure(error, rid, "method " + name));
        self->forget(id);
        self->connection_->send(FrameType::kResult, id, msgpack_of(result));
      });
    };
    c.reject = [self = shared_from_this(), id](Failure f) { self->fail(id, f); };
    replica_->execute(std::move(c), [] {});
  }

  // A typed handle call: codec bytes in, codec bytes out.
  void run_typed(std::uint64_t id, const wire::Call& call, std::shared_ptr<detail::CallContext> context) {
    std::vector<std::string> args(call.arguments.begin(), call.arguments.end());
    detail::Call c;
    c.context = std::move(context);
    c.run = [self = shared_from_this(), id, name = call.header.method, args = std::move(args),
             rid = call.header.request_id](detail::ReplicaCallable& target,
                                           detail::UniqueFunction<void()> done) mutable {
      target.call_encoded(name, std::move(args), [self, id, name, rid, done = std::move(done)](
                                                     std::string result, std::exception_ptr error) mutable {
        done();
        if (error) return self->fail(id, describe_handler_failure(error, rid, "method " + name));
        self->forget(id);
        self->connection_->send(FrameType::kResult, id, result);
      });
    };
    c.reject = [self = shared_from_this(), id](Failure f) { self->fail(id, f); };
    replica_->execute(std::move(c), [] {});
  }

  Replica::Done hook_done(std::uint64_t id) {
    return [self = shared_from_this(), id](std::optional<Failure> failure) {
      if (failure) return self->fail(id, *failure);
      self->connection_->send(FrameType::kResult, id, "");
    };
  }

  void fail(std::uint64_t id, const Failure& f) {
    forget(id);
    connection_->send(FrameType::kError, id, wire::encode_error(f));
  }

  void forget(std::uint64_t id) {
    detail::MutexLock lock(mu_);
    contexts_.erase(id);
  }

  void cancel(std::uint64_t id) {
    std::shared_ptr<detail::CallContext> context;
    Pumped pumped;
    {
      detail::MutexLock lock(mu_);
      if (auto it = contexts_.find(id); it != contexts_.end()) context = it->second;
      if (auto it = streams_.find(id); it != streams_.end()) {
        pumped = std::move(it->second);
        streams_.erase(it);
        contexts_.erase(id);
      }
    }
    if (context) context->cancel(detail::CancelReason::kCancelled);
    if (pumped.source) {
      pumped.source->cancel();
      pumped.finished();
    }
  }

  void credit(std::uint64_t id, std::uint32_t n) {
    bool pull = false;
    {
      detail::MutexLock lock(mu_);
      auto it = streams_.find(id);
      if (it == streams_.end()) return;
      it->second.credits += n;
      pull = !it->second.pulling;
      it->second.pulling = true;
    }
    if (pull) pull_next(id);
  }

  // Pulls items while the consumer has credit.
  void pull_next(std::uint64_t id) {
    std::shared_ptr<detail::ChunkSource> source;
    {
      detail::MutexLock lock(mu_);
      auto it = streams_.find(id);
      if (it == streams_.end()) return;
      source = it->second.source;
    }
    source->pull([self = shared_from_this(), id](std::optional<std::string> chunk, std::exception_ptr error) {
      if (error || !chunk) {
        if (error) {
          self->connection_->send(FrameType::kError, id,
                                  wire::encode_error(describe_handler_failure(error, "", "a stream")));
        } else {
          self->connection_->send(FrameType::kStreamEnd, id, "");
        }
        return self->end_stream(id);
      }
      self->connection_->send(FrameType::kStreamItem, id, *chunk);
      bool more = false;
      {
        detail::MutexLock lock(self->mu_);
        auto it = self->streams_.find(id);
        if (it == self->streams_.end()) return;
        more = --it->second.credits > 0;
        it->second.pulling = more;
      }
      if (more) self->pull_next(id);
    });
  }

  void end_stream(std::uint64_t id) {
    Pumped pumped;
    {
      detail::MutexLock lock(mu_);
      auto it = streams_.find(id);
      if (it == streams_.end()) return;
      pumped = std::move(it->second);
      streams_.erase(it);
      contexts_.erase(id);
    }
    pumped.finished();
  }

  void closed(const Failure& why) {
    if (!stopped_) {
      // The serving process went away (or broke the protocol): nothing is left to serve.
      CSERVE_LOG(kWarning, "worker") << "replica " << args_.replica_id << ": connection ended (" << why.message
                                     << "); exiting";
    }
    detail::MutexLock lock(exit_mu_);
    exit_code_ = 0;
    exit_cv_.notify_all();
  }

  const WorkerArgs args_;
  std::optional<detail::DeploymentDef> def_;
  std::optional<std::string> load_error_;
  std::shared_ptr<LocalReplica> replica_;
  std::shared_ptr<wire::WireConnection> connection_;
  std::atomic<bool> stopped_{false};

  detail::Mutex mu_;
  std::map<std::uint64_t, std::shared_ptr<detail::CallContext>> contexts_ CSERVE_GUARDED_BY(mu_);
  std::map<std::uint64_t, Pumped> streams_ CSERVE_GUARDED_BY(mu_);

  detail::Mutex exit_mu_;
  detail::CondVar exit_cv_;
  std::optional<int> exit_code_ CSERVE_GUARDED_BY(exit_mu_);
};

// The worker's own log lines reach the serving process marked, so that it writes them as they
// are; anything else on stdout/stderr (the user's prints) it logs with the replica's id.
void mark_log_lines() {
  log::set_sink([](std::string_view line) {
    std::string marked = "\x1e";
    marked += line;
    for (std::size_t off = 0; off < marked.size();) {
      const ssize_t n = ::write(STDERR_FILENO, marked.data() + off, marked.size() - off);
      if (n <= 0) return;
      off += static_cast<std::size_t>(n);
    }
  });
}

}  // namespace

int run_worker(const WorkerArgs& args) {
  // Die with the serving process, even if it is killed (SIGKILL gives it no chance to stop us).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (args.parent_pid != 0 && ::getppid() != args.parent_pid) return 1;  // it died before the prctl
  if (!args.gpu_ids.empty()) {
    std::string ids;
    for (int id : args.gpu_ids) ids += (ids.empty() ? "" : ",") + std::to_string(id);
    ::setenv("CUDA_VISIBLE_DEVICES", ids.c_str(), 1);
  }
  mark_log_lines();
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // the user's prints reach the log line by line
  asio::io_context io(1);
  auto host = std::make_shared<WorkerHost>(args, io);
  host->start(io);
  std::thread io_thread([&io] { io.run(); });
  const int status = host->wait();
  log::flush();
  std::fflush(stdout);
  // The user object is gone after __stop__; after an abrupt end there is nothing to wind down
  // gracefully (threads may be inside user code), so the process ends here.
  std::_Exit(status);
}

}  // namespace cserve
