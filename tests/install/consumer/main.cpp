// A program of a user's own, built against the installed package: it serves a Counter and
// checks the answers it gets through a handle and over HTTP (a plain socket, as any client).
#include <cserve/cserve.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

struct Counter {
  cserve::Json operator()() { return {{"count", ++count}}; }
  int count = 0;
};

// One GET over a fresh connection; the whole answer ("" when the connection failed).
std::string http_get(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<unsigned short>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return "";
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  if (::write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) return "";
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) answer.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return answer;
}

int main() {
  auto serve = cserve::start({.http = {.port = 0}, .cpus = 1});
  cserve::DeploymentHandle<Counter> h =
      serve.run(cserve::deployment<Counter>().bind(), {.route_prefix = "/Counter"});
  const cserve::Json first = h.remote().result(std::chrono::seconds(10));
  if (first != cserve::Json{{"count", 1}}) {
    std::fprintf(stderr, "handle call answered %s, expected {\"count\":1}\n", first.dump().c_str());
    return 1;
  }
  const std::string answer = http_get(serve.http_port(), "/Counter");
  if (answer.rfind("HTTP/1.1 200", 0) != 0 || answer.find("{\"count\":2}") == std::string::npos) {
    std::fprintf(stderr, "GET /Counter answered:\n%s\nexpected 200 with {\"count\":2}\n", answer.c_str());
    return 1;
  }
  std::printf("handle and HTTP answered as expected\n");
  return 0;
}
