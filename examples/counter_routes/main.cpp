// The seed's second example: GET /Counter/ (or /Counter), /Counter/incr, /Counter/decr.
//
//   $ curl localhost:8000/Counter/      -> {"count":0}
//   $ curl localhost:8000/Counter/incr  -> {"count":1}
//   $ curl localhost:8000/Counter/decr  -> {"count":0}
#include "counter_routes.hpp"

#include "../common/example_args.hpp"

int main(int argc, char** argv) {
  return examples::guarded_main(argv[0], [&] {
    cserve::Serve serve = cserve::start(examples::parse_args(argc, argv));
    serve.run(cserve::deployment<RoutedCounter>().name("Counter").bind(), {.route_prefix = "/Counter"});
    serve.wait([&] { examples::announce(serve); });
  });
}
