// cserve — the command line: start, run, deploy, status, config, shutdown, build.
// Each subcommand is a function in src/cli/commands.hpp; this file only parses arguments.
#include "cli/commands.hpp"
#include "runtime/worker_host.hpp"

#include <cserve/error.hpp>
#include <cserve/json.hpp>

#include <CLI/CLI.hpp>

#include <iostream>
#include <map>
#include <string>

namespace {

void add_endpoint(CLI::App* cmd, cserve::cli::Endpoint& e) {
  cmd->add_option("--address", e.address, "the admin API of the instance")->capture_default_str();
  cmd->add_option("--token", e.token, "bearer token, when the instance requires one")
      ->envname("CSERVE_ADMIN_TOKEN");
}

void add_serve_options(CLI::App* cmd, cserve::ServeOptions& o) {
  cmd->add_option("--http-host", o.http.host, "address the HTTP proxy binds")->capture_default_str();
  cmd->add_option("--http-port", o.http.port, "port of the HTTP proxy (0: any free port)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--admin-host", o.admin.host, "address the admin API binds")->capture_default_str();
  cmd->add_option("--admin-port", o.admin.port, "port of the admin API (0: any free port)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--token", o.admin.token, "bearer token the admin API requires (needed off loopback)")
      ->envname("CSERVE_ADMIN_TOKEN");
  cmd->add_option_function<int>(
         "--grpc-port",
         [&o](int port) {
           o.grpc.enabled = true;
           o.grpc.port = port;
         },
         "serve gRPC (the Open Inference Protocol and the applications' methods) on this port (0: any free port)")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--grpc-host", o.grpc.host, "address the gRPC ingress binds")->capture_default_str();
  cmd->add_option_function<double>(
         "--cpus", [&o](double v) { o.cpus = v; }, "CPUs this node offers to replicas (default: the core count)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--gpus", o.gpus, "GPUs this node offers to replicas (ids 0..gpus-1)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option_function<std::string>(
      "--resources",
      [&o](const std::string& text) {
        try {
          o.custom_resources = cserve::Json::parse(text).get<std::map<std::string, double>>();
        } catch (const std::exception& e) {
          throw CLI::ValidationError("--resources", "must be a JSON object of numbers, e.g. '{\"tpu\": 4}': " +
                                                        std::string(e.what()));
        }
      },
      "custom resources this node offers, as JSON: '{\"tpu\": 4}'");
  cmd->add_option_function<std::string>(
         "--isolation",
         [&o](const std::string& v) { o.isolation = v == "process" ? cserve::Isolation::kProcess : cserve::Isolation::kThread; },
         "where replicas run when their deployment does not say: thread (default) or process (a worker process "
         "per replica)")
      ->check(CLI::IsMember({"thread", "process"}));
  // Cluster mode (docs/cluster.md).
  cmd->add_option("--etcd", o.cluster.etcd, "join a cluster: etcd client URLs, comma-separated (http://10.0.0.1:2379,...)")
      ->delimiter(',');
  cmd->add_option("--node-name", o.cluster.node_name, "this node's name in the cluster (default: the host name)");
  cmd->add_option("--node-ip", o.cluster.node_ip, "the address other nodes reach this node at")->capture_default_str();
  cmd->add_option("--lease-ttl-s", o.cluster.lease_ttl_s, "seconds of silence after which the cluster drops this node")
      ->capture_default_str()
      ->check(CLI::Range(2, 3600));
  cmd->add_option("--peer-port", o.cluster.peer_port,
                  "the TCP port (on --node-ip) other nodes send calls for this node's replicas to (default: any free "
                  "port, published in the node's record)")
      ->check(CLI::Range(0, 65535));
}

// `cserve worker`: started by a serving process, never by hand (hidden from --help).
void add_worker_options(CLI::App* cmd, cserve::WorkerArgs& w) {
  cmd->add_option("--parent-pid", w.parent_pid)->required();
  cmd->add_option("--library", w.library)->required();
  cmd->add_option("--application", w.application)->required();
  cmd->add_option_function<std::string>("--args", [&w](const std::string& v) { w.args = cserve::Json::parse(v); });
  cmd->add_option("--app-name", w.app_name)->required();
  cmd->add_option("--deployment", w.deployment)->required();
  cmd->add_option("--replica-id", w.replica_id)->required();
  cmd->add_option_function<std::string>("--gpu-ids", [&w](const std::string& v) {
    std::size_t start = 0;
    while (start < v.size()) {
      std::size_t comma = v.find(',', start);
      if (comma == std::string::npos) comma = v.size();
      w.gpu_ids.push_back(std::stoi(v.substr(start, comma - start)));
      start = comma + 1;
    }
  });
  cmd->add_option_function<std::string>("--resources", [&w](const std::string& v) {
    const auto j = cserve::Json::parse(v);
    w.resources.cpus = j.at("cpus").get<double>();
    w.resources.gpus = j.at("gpus").get<double>();
    w.resources.custom = j.at("custom").get<std::map<std::string, double>>();
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cserve: serve C++ models and business logic behind HTTP"};
  app.require_subcommand(1);

  cserve::cli::StartArgs start;
  auto* c_start = app.add_subcommand("start", "start an instance that outlives the command, with its admin API");
  add_serve_options(c_start, start.options);
  c_start->add_flag("--foreground", start.foreground, "stay attached instead of running in the background");
  c_start->add_option("--log-file", start.log_file, "where a background instance writes its log")
      ->capture_default_str();

  cserve::cli::RunArgs run;
  auto* c_run = app.add_subcommand("run", "run a config or one application in the foreground (Ctrl-C stops it)");
  c_run->add_option("target", run.target, "config.yaml, or library.so:application")->required();
  c_run->add_option("--args", run.args_json, "JSON object of the application's args (library targets)");
  add_serve_options(c_run, run.options);

  cserve::cli::DeployArgs deploy;
  auto* c_deploy = app.add_subcommand("deploy", "deploy a config to a running instance (idempotent)");
  c_deploy->add_option("config", deploy.config_path, "the YAML config")->required()->check(CLI::ExistingFile);
  add_endpoint(c_deploy, deploy.endpoint);
  bool no_wait = false;
  c_deploy->add_flag("--no-wait", no_wait, "return once the instance accepted the config");
  c_deploy->add_option("--timeout-s", deploy.timeout_s, "how long to wait for RUNNING")->capture_default_str();

  cserve::cli::Endpoint endpoint;
  auto* c_status = app.add_subcommand("status", "show the applications and deployments of an instance");
  add_endpoint(c_status, endpoint);
  auto* c_config = app.add_subcommand("config", "print the config last deployed to an instance");
  add_endpoint(c_config, endpoint);
  auto* c_shutdown = app.add_subcommand("shutdown", "delete every application and stop the instance");
  add_endpoint(c_shutdown, endpoint);

  cserve::cli::BuildArgs build;
  auto* c_build = app.add_subcommand("build", "write a config for the applications of libraries");
  c_build->add_option("targets", build.targets, "library.so (all its applications) or library.so:application")
      ->required();
  c_build->add_option("-o,--output", build.output, "file to write (default: standard output)");

  cserve::WorkerArgs worker;
  auto* c_worker = app.add_subcommand("worker", "")->group("");  // hidden
  add_worker_options(c_worker, worker);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  deploy.wait = !no_wait;
  try {
    if (*c_worker) return cserve::run_worker(worker);
    if (*c_start) return cserve::cli::start(start, std::cout, std::cerr);
    if (*c_run) return cserve::cli::run(run, std::cout, std::cerr);
    if (*c_deploy) return cserve::cli::deploy(deploy, std::cout, std::cerr);
    if (*c_status) return cserve::cli::status(endpoint, std::cout, std::cerr);
    if (*c_config) return cserve::cli::config(endpoint, std::cout, std::cerr);
    if (*c_shutdown) return cserve::cli::shutdown(endpoint, std::cout, std::cerr);
    if (*c_build) return cserve::cli::build(build, std::cout, std::cerr);
  } catch (const cserve::Error& e) {
    std::cerr << "cserve: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "cserve: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
