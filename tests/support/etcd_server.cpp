#include "support/etcd_server.hpp"

#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/wait.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace cserve::test {

int free_port(const std::string& host) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = 0;
  ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free port on " + host);
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

namespace {

// Whether something accepts connections on host:port.
bool listening(const std::string& host, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

EtcdServer::EtcdServer(const std::string& host) : host_(host) {
  static int instance = 0;
  dir_ = std::filesystem::temp_directory_path() /
         ("cserve-etcd-" + std::to_string(::getpid()) + "-" + std::to_string(instance++));
  // A free port can be taken by another process between free_port() and etcd's bind (tests run
  // in parallel): then etcd exits saying so, and it starts again on other ports.
  for (int attempt = 1;; ++attempt) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    if (start()) return;
    const bool port_taken = log().find("address already in use") != std::string::npos;
    process_.reset();
    if (!port_taken || attempt == 5) throw std::runtime_error("etcd did not start: " + log());
  }
}

bool EtcdServer::start() {
  client_port_ = free_port(host_);
  const int peer_port = free_port(host_);
  const std::string client = "http://" + host_ + ":" + std::to_string(client_port_);
  const std::string peer = "http://" + host_ + ":" + std::to_string(peer_port);
  const std::string command = "exec etcd --name test --data-dir " + (dir_ / "data").string() +
                              " --listen-client-urls " + client + " --advertise-client-urls " + client +
                              " --listen-peer-urls " + peer + " --initial-advertise-peer-urls " + peer +
                              " --initial-cluster test=" + peer + " > " + (dir_ / "etcd.log").string() + " 2>&1";
  process_ = std::make_unique<ChildProcess>("/bin/sh", std::vector<std::string>{"-c", command});
  // Ready when it serves (its /health says so once the member has elected itself leader).
  bool exited = false;
  const bool ready = wait_until([&] {
    if (process_->wait_exit(std::chrono::milliseconds(0))) return exited = true;
    if (!listening(host_, client_port_)) return false;
    try {
      return HttpClient(client_port_, host_).get("/health").body.find("\"true\"") != std::string::npos;
    } catch (const std::exception&) {
      return false;
    }
  }, std::chrono::seconds(20));
  return ready && !exited;
}

EtcdServer::~EtcdServer() {
  process_.reset();  // SIGKILL
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string EtcdServer::endpoint() const { return "http://" + host_ + ":" + std::to_string(client_port_); }

void EtcdServer::pause() {
  process_->signal(SIGSTOP);
  // The signal is asynchronous: wait until every thread of etcd is stopped ('T' in its stat), so
  // that what the test does next meets a stopped etcd.
  const std::string tasks = "/proc/" + std::to_string(process_->pid()) + "/task";
  wait_until([&] {
    std::error_code ec;
    for (const auto& t : std::filesystem::directory_iterator(tasks, ec)) {
      std::ifstream stat(t.path() / "stat");
      std::string line;
      std::getline(stat, line);
      const auto close = line.rfind(')');
      if (close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'T') return false;
    }
    return !ec;
  }, std::chrono::seconds(5));
}

void EtcdServer::resume() { process_->signal(SIGCONT); }

std::string EtcdServer::log() const {
  std::ifstream in(dir_ / "etcd.log");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace cserve::test
