// The seed's quick start, as one program: serve the first Counter, and on SIGHUP redeploy the
// second (routed) Counter in its place — a rolling update, with no request lost. SIGINT or
// SIGTERM shuts down gracefully.
//
//   $ ./quickstart --port 8000 &
//   $ curl localhost:8000/Counter          -> {"count":1}
//   $ kill -HUP %1
//   $ curl localhost:8000/Counter/incr     -> {"count":1}   (a new version: the count restarted)
#include <cserve/cserve.hpp>

#include <chrono>
#include <thread>

#include "../common/example_args.hpp"
#include "../counter_routes/counter_routes.hpp"

#include <csignal>
#include <cstdio>

class Counter {
 public:
  cserve::Json operator()(const cserve::Request&) { return {{"count", ++count_}}; }

 private:
  int count_ = 0;
};

int main(int argc, char** argv) {
  // Block the signals before any thread starts, so that every thread inherits the mask and
  // sigwait() below is the only place they arrive.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGINT, SIGTERM}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  return examples::guarded_main(argv[0], [&] {
    cserve::Serve serve = cserve::start(examples::parse_args(argc, argv));
    serve.run(cserve::deployment<Counter>().bind(), {.route_prefix = "/Counter"});
    examples::announce(serve);

    bool redeployed = false;
    for (;;) {
      int signo = 0;
      sigwait(&signals, &signo);
      if (signo != SIGHUP) break;
      if (redeployed) continue;
      std::printf("redeploying Counter with routes /, /incr and /decr\n");
      std::fflush(stdout);
      serve.run(cserve::deployment<RoutedCounter>().name("Counter").bind(), {.route_prefix = "/Counter"});
      std::printf("redeployed\n");
      std::fflush(stdout);
      redeployed = true;
      // The new version serves; the old replica drains in the background. Say when it is gone.
      for (;;) {
        const cserve::ServeStatus s = serve.status();
        const auto& replicas = s.applications.at("default").deployments.at("Counter").replicas;
        if (replicas.size() == 1 && replicas[0].state == cserve::ReplicaState::RUNNING) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      std::printf("the old version has stopped\n");
      std::fflush(stdout);
    }
    serve.shutdown();
  });
}
