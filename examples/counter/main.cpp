// The seed's first example: a stateful Counter behind HTTP.
//
//   $ ./counter --port 8000
//   $ curl localhost:8000/Counter     -> {"count":1}
//   $ curl localhost:8000/Counter     -> {"count":2}
#include <cserve/cserve.hpp>

#include "../common/example_args.hpp"

class Counter {
 public:
  cserve::Json operator()(const cserve::Request&) { return {{"count", ++count_}}; }

 private:
  int count_ = 0;
};

int main(int argc, char** argv) {
  return examples::guarded_main(argv[0], [&] {
    cserve::Serve serve = cserve::start(examples::parse_args(argc, argv));
    serve.run(cserve::deployment<Counter>().bind(), {.route_prefix = "/Counter"});
    serve.wait([&] { examples::announce(serve); });
  });
}
