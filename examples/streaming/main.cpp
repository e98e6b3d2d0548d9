// Streaming: tokens sent one by one as a chunked HTTP response (server-sent events when asked).
//
//   $ ./streaming --port 8000
//   $ curl -N 'localhost:8000/tokens?n=5&delay_ms=300'                         (chunks, one by one)
//   $ curl -N -H 'Accept: text/event-stream' 'localhost:8000/tokens?n=5'       (data: ... events)
#include <cserve/cserve.hpp>
#include <cserve/stream.hpp>

#include "../common/example_args.hpp"

#include <chrono>
#include <string>

class Tokens {
 public:
  // Not a coroutine itself: bad parameters answer 400 before any byte of the stream is sent.
  cserve::Stream<std::string> operator()(const cserve::Request& req) {
    int n = parameter(req, "n", 10, 1, 1000);
    int delay_ms = parameter(req, "delay_ms", 100, 0, 10000);
    return generate(n, std::chrono::milliseconds(delay_ms));
  }

 private:
  static cserve::Stream<std::string> generate(int n, std::chrono::milliseconds delay) {
    static const char* kWords[] = {"the", "quick", "brown", "fox", "jumps", "over", "the", "lazy", "dog"};
    for (int i = 0; i < n; ++i) {
      co_await cserve::sleep_for(delay);  // stands for the model producing the next token
      co_yield std::string(kWords[i % 9]) + (i + 1 < n ? " " : "\n");
    }
  }

  static int parameter(const cserve::Request& req, const char* name, int fallback, int lo, int hi) {
    auto v = req.query(name);
    if (!v) return fallback;
    try {
      std::size_t used = 0;
      int n = std::stoi(*v, &used);
      if (used == v->size() && n >= lo && n <= hi) return n;
    } catch (const std::exception&) {
    }
    throw cserve::HttpError(400, std::string(name) + " must be an integer in " + std::to_string(lo) +
                                     ".." + std::to_string(hi));
  }
};

int main(int argc, char** argv) {
  return examples::guarded_main(argv[0], [&] {
    cserve::Serve serve = cserve::start(examples::parse_args(argc, argv));
    serve.run(cserve::deployment<Tokens>().max_ongoing_requests(100).bind(), {.route_prefix = "/tokens"});
    serve.wait([&] { examples::announce(serve); });
  });
}
