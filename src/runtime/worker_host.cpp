#include "runtime/worker_host.hpp"

#include "common/asio.hpp"
#include "common/log_buffer.hpp"
#include "common/logging.hpp"
#include "config/app_loader.hpp"
#include "peer/wire_answers.hpp"
#include "proxy/http_call.hpp"
#include "replica/local_replica.hpp"
#include "wire/connection.hpp"
#include "wire/http_codec.hpp"
#include "worker/call_client.hpp"
#include "worker/call_server.hpp"
#include "worker/spawn.hpp"

#include <cserve/detail/call_context.hpp>
#include <cserve/detail/mutex.hpp>

#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <thread>

namespace cserve {
namespace {

using wire::Frame;
using wire::FrameType;

// Where the calls of a handle in the worker go: over the connection to the serving process,
// whose router for the deployment picks the replica (in that process or in another worker).
class WireSink final : public detail::CallSink {
 public:
  WireSink(std::shared_ptr<CallClient> client, std::string deployment)
      : target_(remote_callable(std::move(client), std::move(deployment))) {}
  void submit(detail::Call call) override {
    if (call.context->cancelled()) return call.reject(call.context->failure());
    detail::ScopedCall in_call(call.context);  // its request id, deadline and cancellation travel
    call.run(*target_, [] {});                 // (the serving process's router holds the slot)
  }

 private:
  const std::unique_ptr<detail::ReplicaCallable> target_;
};

// The deployments a replica in a worker is bound to: handles whose calls cross to the serving
// process. A name the application does not have is a ConfigError, as in-process.
class WireSinks final : public detail::FactoryContext {
 public:
  WireSinks(std::shared_ptr<CallClient> client, std::string app, std::set<std::string> deployments)
      : client_(std::move(client)), app_(std::move(app)), deployments_(std::move(deployments)) {}
  std::shared_ptr<detail::CallSink> sink(const std::string& deployment) const override {
    if (!deployments_.count(deployment)) {
      throw ConfigError("application '" + app_ + "' has no deployment '" + deployment + "'");
    }
    return std::make_shared<WireSink>(client_, deployment);
  }

 private:
  std::shared_ptr<CallClient> client_;
  std::string app_;
  std::set<std::string> deployments_;
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

class WorkerHost final : public std::enable_shared_from_this<WorkerHost> {
 public:
  WorkerHost(const WorkerArgs& args, asio::io_context& io) : args_(args) {
    std::set<std::string> deployments;
    try {
      Application app = load_application(args.library + ":" + args.application, args.args);
      for (const auto& d : app.deployments()) {
        deployments.insert(d.options.name);
        if (d.options.name == args.deployment) def_ = d;
      }
      if (!def_) load_error_ = "application '" + args.application + "' has no deployment '" + args.deployment + "'";
    } catch (const std::exception& e) {
      load_error_ = std::string("the worker could not load the application: ") + e.what();
    }
    ReplicaContext ctx{args.app_name, args.deployment, args.replica_id, args.gpu_ids, args.resources};
    LocalReplica::Maker maker;
    if (def_) {
      maker = [factory = def_->factory, sinks = WireSinks(client_, args.app_name, std::move(deployments))] {
        return factory(sinks);
      };
    }
    replica_ = std::make_shared<LocalReplica>(std::move(ctx), std::make_unique<IoStrand>(io), std::move(maker));
  }

  void start(asio::io_context& io) {
    wire::Hello hello;
    hello.role = "worker";
    hello.pid = ::getpid();
    connection_ = wire::WireConnection::adopt(io, kWorkerSocketFd, hello);
    server_ = std::make_shared<CallServer>(connection_, [replica = replica_](const wire::CallHeader&, detail::Call call) {
      replica->execute(std::move(call), [] {});
    });
    answers_ = std::make_shared<WireAnswers>(server_, connection_);
    client_->attach(connection_);
    // The models its Multiplexed holds, for the serving process's routers.
    replica_->on_models_changed([connection = connection_](const std::vector<std::string>& ids) {
      std::string payload;
      Json::to_msgpack(Json(ids), payload);
      connection->send(FrameType::kModels, 0, payload);
    });
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

 private:
  void on_frame(Frame& frame) {
    const bool served =
        server_->take(frame, [this](std::uint64_t id, const wire::Call& call) { on_call(id, call); });
    if (!served) client_->on_frame(frame);  // answers to the replica's own handle calls
  }

  void on_call(std::uint64_t id, const wire::Call& call) {
    const auto& h = call.header;
    auto argument = [&]() -> Json {
      if (call.arguments.empty()) return nullptr;
      Json j = Json::from_msgpack(call.arguments[0].begin(), call.arguments[0].end(), true, false);
      return j.is_discarded() ? Json(nullptr) : j;
    };
    if (h.method == "__start__") {
      if (load_error_) return server_->fail(id, {ErrorCode::kInternal, *load_error_});
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
    if (h.kind != wire::CallKind::kHttp) return server_->serve(id, call);
    if (auto http = answers_->http_call(id, call)) replica_->execute(std::move(*http), [] {});
  }

  Replica::Done hook_done(std::uint64_t id) {
    return [self = shared_from_this(), id](std::optional<Failure> failure) {
      if (failure) return self->server_->fail(id, *failure);
      self->connection_->send(FrameType::kResult, id, "");
    };
  }

  void closed(const Failure& why) {
    if (!stopped_) {
      // The serving process went away (or broke the protocol): nothing is left to serve.
      CSERVE_LOG(kWarning, "worker") << "replica " << args_.replica_id << ": connection ended (" << why.message
                                     << "); exiting";
    }
    client_->refuse({ErrorCode::kUnavailable, "the connection to the serving process ended"});
    client_->fail_pending({ErrorCode::kUnavailable, "the connection to the serving process ended"});
    detail::MutexLock lock(exit_mu_);
    exit_code_ = 0;
    exit_cv_.notify_all();
  }

  const WorkerArgs args_;
  std::optional<detail::DeploymentDef> def_;
  std::optional<std::string> load_error_;
  const std::shared_ptr<CallClient> client_ = std::make_shared<CallClient>(/*first_id=*/2);  // the replica's calls
  std::shared_ptr<LocalReplica> replica_;
  // Set by start(), before any frame arrives; read-only afterwards.
  std::shared_ptr<wire::WireConnection> connection_;
  std::shared_ptr<CallServer> server_;  // the serving process's calls to the replica
  std::shared_ptr<WireAnswers> answers_;  // of its HTTP calls
  std::atomic<bool> stopped_{false};

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
