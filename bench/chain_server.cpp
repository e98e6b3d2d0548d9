// The server bench/composition.sh drives: GET /chain goes through DEPTH handle hops before a
// leaf answers, each hop its own deployment calling the next with co_await.
//
//   chain_server DEPTH PORT     (DEPTH 0..3; prints "listening on http://127.0.0.1:PORT")
#include <cserve/cserve.hpp>

#include <cstdio>
#include <cstdlib>

template <int N>
class Hop {
 public:
  explicit Hop(cserve::DeploymentHandle<Hop<N - 1>> next) : next_(std::move(next)) {}
  cserve::Task<int> call(int x) { co_return co_await next_.method(&Hop<N - 1>::call).remote(x + 1); }
  cserve::Task<cserve::Json> operator()(const cserve::Request&) {
    int hops = co_await call(0);
    co_return cserve::Json{{"hops", hops}};
  }

 private:
  cserve::DeploymentHandle<Hop<N - 1>> next_;
};

template <>
class Hop<0> {
 public:
  int call(int x) { return x; }
  cserve::Json operator()(const cserve::Request&) { return {{"hops", 0}}; }
};

template <int N>
cserve::BoundDeployment<Hop<N>> chain() {
  auto d = cserve::deployment<Hop<N>>().name("hop" + std::to_string(N)).resources({.cpus = 0.25});
  if constexpr (N == 0) {
    return d.bind();
  } else {
    return d.bind(chain<N - 1>());
  }
}

int main(int argc, char** argv) {
  int depth = argc > 1 ? std::atoi(argv[1]) : 0;
  int port = argc > 2 ? std::atoi(argv[2]) : 0;
  auto serve = cserve::start({.http = {.port = port}});
  switch (depth) {
    case 0: serve.run(chain<0>(), {.route_prefix = "/chain"}); break;
    case 1: serve.run(chain<1>(), {.route_prefix = "/chain"}); break;
    case 2: serve.run(chain<2>(), {.route_prefix = "/chain"}); break;
    default: serve.run(chain<3>(), {.route_prefix = "/chain"}); break;
  }
  std::printf("listening on http://127.0.0.1:%d\n", serve.http_port());
  std::fflush(stdout);
  serve.wait();
}
