#include "worker/process_launcher.hpp"

#include "common/asio.hpp"
#include "worker/process_replica.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

namespace cserve {
namespace {

// The I/O thread of every worker connection in this process. It is never destroyed: replicas
// (and the sockets they own) may be dropped by handles that outlive the runtime.
asio::io_context& worker_io() {
  static asio::io_context* io = [] {
    auto* ctx = new asio::io_context(1);
    auto* guard = new asio::executor_work_guard<asio::io_context::executor_type>(ctx->get_executor());
    (void)guard;
    std::thread([ctx] { ctx->run(); }).detach();
    return ctx;
  }();
  return *io;
}

std::string join_ids(const std::vector<int>& ids) {
  std::string out;
  for (int id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

}  // namespace

IsolatingLauncher::IsolatingLauncher(ReplicaLauncher& in_process, std::string worker_binary)
    : in_process_(in_process), worker_binary_(std::move(worker_binary)) {}

std::shared_ptr<Replica> IsolatingLauncher::make(ReplicaContext context, const detail::DeploymentDef& def,
                                                 std::shared_ptr<const detail::FactoryContext> sinks) {
  if (def.options.isolation != Isolation::kProcess) return in_process_.make(std::move(context), def, std::move(sinks));
  WorkerSpec spec;
  spec.binary = worker_binary_;
  spec.memory_limit_bytes = context.resources.memory;
  if (!def.origin) {
    spec.refused = "deployment '" + def.options.name +
                   "' has isolation 'process' but its application was not loaded from a library";
  } else if (worker_binary_.empty()) {
    spec.refused = "no worker binary: run the application with the cserve command, or set CSERVE_WORKER_BINARY";
  } else {
    Json resources{{"cpus", context.resources.cpus}, {"gpus", context.resources.gpus},
                   {"custom", context.resources.custom}};
    spec.args = {"worker",
                 "--parent-pid", std::to_string(::getpid()),
                 "--library", def.origin->library,
                 "--application", def.origin->application,
                 "--args", def.origin->args.dump(),
                 "--app-name", context.app_name,
                 "--deployment", context.deployment,
                 "--replica-id", context.replica_id,
                 "--gpu-ids", join_ids(context.gpu_ids),
                 "--resources", resources.dump()};
  }
  return std::make_shared<ProcessReplica>(std::move(context), std::move(spec), worker_io(), std::move(sinks));
}

std::string default_worker_binary() {
  if (const char* env = std::getenv("CSERVE_WORKER_BINARY"); env && *env) return env;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec && self.filename() == "cserve") return self.string();
  return {};
}

}  // namespace cserve
