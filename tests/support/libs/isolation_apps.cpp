// Applications the isolation tests run in worker processes: a model whose handlers crash in every
// way a process can (segfault, abort, exit, endless loop), stream, and answer calls by name; an
// in-process ingress that calls it through a handle.
#include <cserve/application.hpp>
#include <cserve/cserve.hpp>

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

class Fragile {
 public:
  explicit Fragile(std::string tag) : tag_(std::move(tag)) {}
  static void routes(cserve::Routes<Fragile>& r) {
    r.get("/ok", &Fragile::ok)
        .get("/crash", &Fragile::crash)
        .get("/abort", &Fragile::abort_now)
        .get("/exit", &Fragile::exit_now)
        .get("/hang", &Fragile::hang)
        .get("/print", &Fragile::print)
        .get("/grow", &Fragile::grow)
        .get("/stream", &Fragile::stream)
        .post("/echo", &Fragile::echo);
  }
  static void methods(cserve::Methods<Fragile>& m) { m.add("scale", &Fragile::scale).add("pid", &Fragile::pid); }

  cserve::Json ok() { return {{"pid", ::getpid()}, {"tag", tag_}, {"calls", ++calls_}}; }
  cserve::Json crash() {
    std::raise(SIGSEGV);
    return nullptr;
  }
  cserve::Json abort_now() { std::abort(); }
  cserve::Json exit_now() { std::exit(3); }
  cserve::Json hang() {
    for (volatile bool forever = true; forever;) {
    }
    return nullptr;
  }
  // Allocates (and touches) 16 MiB at a time, holding it, until the process is killed; gives up at
  // 4 GiB, which answers 200 (the limit was not enforced).
  cserve::Json grow() {
    for (int i = 0; i < 256; ++i) {
      held_.emplace_back(16u << 20, static_cast<char>(i));
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return {{"held_mib", held_.size() * 16}};
  }
  cserve::Json print() {
    std::printf("printed by the user's code in pid %d\n", static_cast<int>(::getpid()));
    return "printed";
  }
  cserve::Stream<std::string> stream(const cserve::Request& req) {
    const int n = std::stoi(req.query("n").value_or("3"));
    for (int i = 0; i < n; ++i) co_yield "item " + std::to_string(i) + "\n";
  }
  cserve::Response echo(const cserve::Request& req) {
    cserve::Response r;
    r.body = req.body();
    r.content_type = "application/octet-stream";
    return r;
  }
  std::vector<double> scale(std::vector<double> xs, double k) {
    for (auto& x : xs) x *= k;
    return xs;
  }
  int pid() { return ::getpid(); }

 private:
  std::string tag_;
  int calls_ = 0;
  std::vector<std::vector<char>> held_;
};

// In-process ingress: GET /?x=N calls the model's "scale" by name across the process boundary.
class Front {
 public:
  explicit Front(cserve::DeploymentHandle<> model) : model_(std::move(model)) {}
  cserve::Task<cserve::Json> operator()(const cserve::Request& req) {
    const double x = std::stod(req.query("x").value_or("1"));
    const std::string scale = "scale", pid_method = "pid";  // (GCC 12 cannot co_await with literals here)
    auto scaling = model_.method(scale).remote(std::vector<double>{x, x + 1}, 10.0);
    auto asking = model_.method(pid_method).remote();
    cserve::Json scaled = co_await std::move(scaling);
    cserve::Json pid = co_await std::move(asking);
    co_return cserve::Json{{"scaled", scaled}, {"model_pid", pid}, {"front_pid", ::getpid()}};
  }

 private:
  cserve::DeploymentHandle<> model_;
};

}  // namespace

// args: {"tag": "..."} (a new tag is a new version: a rolling update).
CSERVE_APPLICATION(fragile, args) {
  return cserve::deployment<Fragile>().bind(args.value("tag", std::string("v1")));
}

CSERVE_APPLICATION(composed, args) {
  auto model = cserve::deployment<Fragile>().name("Model").bind(args.value("tag", std::string("v1")));
  return cserve::deployment<Front>().bind(model);
}
