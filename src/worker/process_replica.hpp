// process_replica.hpp — a replica in a `cserve worker` process, as routers and the controller
// see it: every Replica operation becomes a call over the wire protocol (docs/wire.md).
//
//   start()  spawns the worker, then calls __start__ (the worker loads the application library,
//            builds the user object and applies user_config)
//   execute  runs the Call against a stand-in ReplicaCallable (call_client.hpp) whose operations
//            send CALLs and complete from their RESULT / HTTP_HEAD + items / STREAM_ITEMs / ERROR
//   calls the replica makes through its handles arrive as CALLs from the worker: they are
//            routed to the application's deployments (call_server.hpp)
//   stop()   calls __stop__ (the worker destroys the object and exits); a worker still alive
//            `stop_grace` later gets SIGTERM, and SIGKILL two seconds after that
//
// When the worker's connection ends (it crashed, was killed, exited), the process is reaped and
// every call in flight fails with kReplicaDied naming the replica and how the process ended
// (signal name or exit status); exit_cause() says the same to the controller, which replaces it.
// Thread-safety: all member functions are safe from any thread; completions run on the wire's
// I/O thread.
#pragma once

#include "replica/replica.hpp"
#include "worker/call_client.hpp"
#include "worker/call_server.hpp"

#include <cserve/detail/callable.hpp>
#include <cserve/detail/mutex.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}

namespace cserve {

namespace wire {
class WireConnection;
struct Frame;
}  // namespace wire

struct WorkerSpec {
  std::string binary;             // the cserve executable
  std::vector<std::string> args;  // its arguments: "worker" and what the worker needs to load the replica
  std::chrono::milliseconds stop_grace{5000};
  std::optional<std::string> refused;  // set: the replica cannot run in a worker, and why
  double memory_limit_bytes = 0;       // > 0: the worker is killed when its resident memory passes it
};

class ProcessReplica final : public Replica, public std::enable_shared_from_this<ProcessReplica> {
 public:
  // `sinks`: the routers of the replica's application, for the calls it makes through handles.
  ProcessReplica(ReplicaContext context, WorkerSpec spec, boost::asio::io_context& io,
                 std::shared_ptr<const detail::FactoryContext> sinks);
  ~ProcessReplica() override;

  void start(std::optional<Json> user_config, Done done) override;
  void reconfigure(Json user_config, Done done) override;
  void check_health(Done done) override;
  void stop(UniqueFunction<void()> done) override;
  void execute(detail::Call call, UniqueFunction<void()> finished) override;
  std::optional<Failure> exit_cause() const override;
  std::optional<ProcessUsage> usage() const override;
  bool accepting() const override { return !gone_flag_.load(std::memory_order_acquire); }

  pid_t pid() const;

 private:
  void hook(std::string method, std::optional<Json> argument, Done done);
  void on_frame(wire::Frame& frame);
  void on_models(const std::string& payload);
  void on_closed(const Failure& why);
  void reap(int attempts_left);
  void ended(int wait_status);
  void read_output();
  // Every 100 ms while a memory limit is set: kills the worker once its RSS passes the limit.
  void watch_memory();
  void output_line(std::string_view line);

  const WorkerSpec spec_;
  boost::asio::io_context& io_;
  const std::shared_ptr<const detail::FactoryContext> sinks_;
  const std::shared_ptr<CallClient> client_;  // calls to the worker
  const std::unique_ptr<detail::ReplicaCallable> stand_in_;  // what router Calls run against: client_

  std::atomic<bool> gone_flag_{false};  // gone_ is set (read without the lock by routers)
  mutable detail::Mutex mu_;
  pid_t pid_ CSERVE_GUARDED_BY(mu_) = -1;
  std::shared_ptr<wire::WireConnection> connection_ CSERVE_GUARDED_BY(mu_);
  std::shared_ptr<CallServer> server_ CSERVE_GUARDED_BY(mu_);  // calls from the worker's replica
  std::optional<Failure> gone_ CSERVE_GUARDED_BY(mu_);  // set once no call can reach the worker
  std::optional<Failure> exit_cause_ CSERVE_GUARDED_BY(mu_);  // set once the process was reaped
  bool stopping_ CSERVE_GUARDED_BY(mu_) = false;
  std::optional<std::string> killed_for_ CSERVE_GUARDED_BY(mu_);  // why cserve killed the worker
  UniqueFunction<void()> stop_done_ CSERVE_GUARDED_BY(mu_);

  struct Output;  // the worker's stdout/stderr, read on the I/O thread
  std::shared_ptr<Output> output_;
};

}  // namespace cserve
