// The seed's two Counters as applications in a shared library, for the cserve CLI and configs:
//
//   $ cserve start
//   $ cserve deploy examples/counter_app/counter.yaml           # the first Counter
//   $ curl localhost:8000/Counter                                -> {"count":1}
//   $ cserve deploy examples/counter_app/counter_routes.yaml    # rolls over to the routed one
//   $ curl localhost:8000/Counter/incr                           -> {"count":1}
//   $ cserve status; cserve shutdown
#include <cserve/application.hpp>
#include <cserve/cserve.hpp>

#include "../counter_routes/counter_routes.hpp"

namespace {

class Counter {
 public:
  explicit Counter(int start) : count_(start) {}
  cserve::Json operator()(const cserve::Request&) { return {{"count", ++count_}}; }

 private:
  int count_;
};

}  // namespace

// args: {"start": N} — the count the first request increments (default 0).
CSERVE_APPLICATION(counter, args) {
  return cserve::deployment<Counter>().bind(args.value("start", 0));
}

CSERVE_APPLICATION(counter_routes, args) {
  (void)args;
  return cserve::deployment<RoutedCounter>().name("Counter").bind();
}
