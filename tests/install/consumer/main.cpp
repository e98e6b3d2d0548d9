#include <cserve/cserve.hpp>

#include <cstdio>

struct Counter {
  cserve::Json operator()() { return {{"count", ++count}}; }
  int count = 0;
};

int main() {
  auto serve = cserve::start({.http = {.port = 0}, .cpus = 1});
  serve.run(cserve::deployment<Counter>().bind(), {.route_prefix = "/Counter"});
  auto status = serve.status();
  std::printf("%s\n", cserve::to_string(status.applications.at("default").status));
  return status.applications.at("default").status == cserve::ApplicationStatus::RUNNING ? 0 : 1;
}
