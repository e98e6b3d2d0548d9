#include "worker/spawn.hpp"

#include <cserve/error.hpp>

#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <utility>

extern char** environ;

namespace cserve {
namespace {

std::string errno_text(int e) { return std::strerror(e); }

struct Fds {
  int fd[2] = {-1, -1};
  ~Fds() {
    for (int f : fd) {
      if (f >= 0) ::close(f);
    }
  }
  int take(int i) { return std::exchange(fd[i], -1); }
};

}  // namespace

SpawnedWorker spawn_worker(const std::string& binary, const std::vector<std::string>& args) {
  Fds sock, out;
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock.fd) != 0) {
    throw Error("cannot make a socket pair for a worker: " + errno_text(errno));
  }
  if (::pipe2(out.fd, O_CLOEXEC) != 0) throw Error("cannot make a pipe for a worker: " + errno_text(errno));

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // dup2 clears close-on-exec on the copy; the originals stay close-on-exec.
  posix_spawn_file_actions_adddup2(&actions, sock.fd[1], kWorkerSocketFd);
  posix_spawn_file_actions_adddup2(&actions, out.fd[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out.fd[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Default signal handling and an unblocked mask in the child, whatever the parent set.
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, binary.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw Error("cannot start the worker binary '" + binary + "': " + errno_text(rc));
  SpawnedWorker w;
  w.pid = pid;
  w.socket_fd = sock.take(0);
  w.output_fd = out.take(0);
  return w;
}

std::string describe_exit(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* abbrev = sigabbrev_np(sig);
    return "was killed by " + (abbrev ? "SIG" + std::string(abbrev) : std::string("a signal")) + " (signal " +
           std::to_string(sig) + ")";
  }
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "ended (wait status " + std::to_string(status) + ")";
}

}  // namespace cserve
