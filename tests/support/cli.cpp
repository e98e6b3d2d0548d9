#include "support/cli.hpp"

#include "support/process.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <regex>

namespace cserve::test {

CliResult run_cli(const std::string& args) {
  // "VAR=value ... subcommand ...": the assignments go before the binary.
  std::string env;
  std::string rest = args;
  static const std::regex assignment("^([A-Za-z_][A-Za-z0-9_]*=[^ ]*) +");
  for (std::smatch m; std::regex_search(rest, m, assignment);) {
    env += m[1].str() + " ";
    rest = m.suffix();
  }
  ChildProcess p("/bin/sh", {"-c", env + std::string(CSERVE_BINARY_FOR_TESTS) + " " + rest + " 2>&1"});
  CliResult r;
  while (auto line = p.wait_for_line("", std::chrono::seconds(60))) r.output += *line + "\n";
  r.code = p.wait_exit(std::chrono::seconds(60)).value_or(-1);
  return r;
}

CliInstance::CliInstance(const std::string& extra_args) {
  static std::atomic<int> n{0};
  dir = std::filesystem::temp_directory_path() /
        ("cserve_instance_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
  std::filesystem::create_directories(dir);
  CliResult r = run_cli("start --http-port 0 --admin-port 0 --log-file " + (dir / "cserve.log").string() + " " +
                        extra_args);
  output = r.output;
  std::smatch m;
  if (r.code == 0 &&
      std::regex_search(r.output, m, std::regex("HTTP on http://127\\.0\\.0\\.1:(\\d+), admin API on (http://127\\.0\\.0\\.1:\\d+)"))) {
    http_port = std::stoi(m[1]);
    admin = m[2];
  }
}

CliInstance::~CliInstance() {
  if (!admin.empty()) run_cli("shutdown" + at());
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

std::string CliInstance::write(const std::string& name, const std::string& text) const {
  const auto path = dir / name;
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
  return path.string();
}

}  // namespace cserve::test
