// etcd_server.hpp — a real etcd (Debian's etcd-server) for tests: one member on free loopback
// ports with its data in a temporary directory, its log in a file there; SIGSTOP/SIGCONT and
// SIGKILL for the faults the cluster must survive.
// Thread-safety: one owner thread.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

namespace cserve::test {

class ChildProcess;

class EtcdServer {
 public:
  // Starts etcd and waits until it answers (throws std::runtime_error with its log if it does not).
  explicit EtcdServer(const std::string& host = "127.0.0.1");
  ~EtcdServer();
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;

  std::string endpoint() const;  // http://HOST:PORT
  void pause();                  // SIGSTOP; returns once etcd is stopped
  void resume();                 // SIGCONT
  std::string log() const;

 private:
  bool start();  // false: it exited or did not answer in time

  std::filesystem::path dir_;
  std::string host_;
  int client_port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

// A port nothing listens on now (bound and released at once).
int free_port(const std::string& host = "127.0.0.1");

}  // namespace cserve::test
