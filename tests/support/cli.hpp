// cli.hpp — the cserve binary as a user runs it from a terminal: one command to its end, or a
// `cserve start`ed instance in a temporary directory that the destructor shuts down.
// Thread-safety: one owner thread.
#pragma once

#include <filesystem>
#include <string>

namespace cserve::test {

struct CliResult {
  int code = -1;
  std::string output;  // stdout and stderr
};

// Runs `cserve ARGS` (through /bin/sh: ARGS may quote, and may start with VAR=value) to its end.
CliResult run_cli(const std::string& args);

class CliInstance {
 public:
  // `cserve start --http-port 0 --admin-port 0 EXTRA`; fails the test when it does not start.
  explicit CliInstance(const std::string& extra_args = "");
  ~CliInstance();
  CliInstance(const CliInstance&) = delete;
  CliInstance& operator=(const CliInstance&) = delete;

  bool started() const { return http_port > 0; }
  // " --address http://127.0.0.1:PORT": the instance, for a command's arguments.
  std::string at() const { return " --address " + admin; }
  // Writes `text` to `name` in the instance's directory and returns its path.
  std::string write(const std::string& name, const std::string& text) const;

  std::filesystem::path dir;
  int http_port = 0;
  std::string admin;    // http://127.0.0.1:PORT
  std::string output;   // what `cserve start` printed
};

}  // namespace cserve::test
