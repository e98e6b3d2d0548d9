// spawn.hpp — starting a `cserve worker` process and telling how it ended.
//
// The child gets one end of a Unix socket pair as fd 3 (the wire connection) and a pipe as its
// stdout and stderr (collected by the parent, line by line, with the replica's id). Nothing else
// is inherited: the parent's other descriptors are close-on-exec or closed in the child.
// Thread-safety: reentrant.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace cserve {

struct SpawnedWorker {
  pid_t pid = -1;
  int socket_fd = -1;  // the parent's end of the wire connection
  int output_fd = -1;  // the read end of the child's stdout and stderr
};

// Starts `binary` with `args` (argv[1..]). Throws cserve::Error naming the binary and the reason.
SpawnedWorker spawn_worker(const std::string& binary, const std::vector<std::string>& args);

// How a process ended, from a waitpid status: "was killed by SIGSEGV (signal 11)" or "exited
// with status 3".
std::string describe_exit(int wait_status);

// The file descriptor number a worker finds its connection on.
inline constexpr int kWorkerSocketFd = 3;

}  // namespace cserve
