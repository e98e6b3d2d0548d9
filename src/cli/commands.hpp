// commands.hpp — the cserve CLI's subcommands as functions returning an exit status:
// 0 success, 1 failure (the message says why), 2 a bad command line (from main).
// Output goes to `out`, errors to `err`, so tests can call them directly.
// Thread-safety: one command at a time per process.
#pragma once

#include <cserve/serve.hpp>

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace cserve::cli {

struct Endpoint {
  std::string address = "http://127.0.0.1:8265";  // the admin API
  std::string token;
};

struct StartArgs {
  ServeOptions options;          // admin enabled by the command
  bool foreground = false;       // stay attached (default: run in the background)
  std::string log_file = "cserve.log";
};

struct RunArgs {
  std::string target;  // config.yaml, or library.so:application
  ServeOptions options;
  std::string args_json = "{}";  // the application's args (library targets)
};

struct DeployArgs {
  std::string config_path;
  Endpoint endpoint;
  bool wait = true;
  double timeout_s = 120;
};

struct BuildArgs {
  std::vector<std::string> targets;  // library.so (every application) or library.so:application
  std::string output;                // "" = stdout
};

int start(const StartArgs& a, std::ostream& out, std::ostream& err);
int run(const RunArgs& a, std::ostream& out, std::ostream& err);
int deploy(const DeployArgs& a, std::ostream& out, std::ostream& err);
int status(const Endpoint& e, std::ostream& out, std::ostream& err);
int config(const Endpoint& e, std::ostream& out, std::ostream& err);
int shutdown(const Endpoint& e, std::ostream& out, std::ostream& err);
int build(const BuildArgs& a, std::ostream& out, std::ostream& err);

// Reads a YAML config and makes its relative import paths absolute against the config's folder
// (the instance that loads them may run elsewhere). Throws ConfigError.
Json read_config(const std::string& path);

}  // namespace cserve::cli
