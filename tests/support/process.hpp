// process.hpp — runs a real binary for integration tests: stdout captured line by line,
// signals, exit status. The destructor kills what is still running.
// Thread-safety: one owner thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace cserve::test {

class ChildProcess {
 public:
  ChildProcess(const std::string& path, const std::vector<std::string>& args);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Waits for a stdout line starting with `prefix` and returns it; nullopt on timeout or exit.
  std::optional<std::string> wait_for_line(const std::string& prefix,
                                           std::chrono::milliseconds timeout);
  // For examples: waits for "listening on http://HOST:PORT" and returns PORT (or -1).
  int wait_for_port(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  void signal(int signo);
  // The exit status (or 128 + signal), or nullopt if it did not exit in time.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string pending_;
  bool exited_ = false;
  int status_ = 0;
};

}  // namespace cserve::test
