// example_args.hpp — the command line every example shares: --host HOST --port PORT.
// Port 0 picks any free port; the example prints "listening on http://HOST:PORT" once it serves.
#pragma once

#include <cserve/cserve.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

namespace examples {

// Exits with status 2 and a usage line on a bad command line.
inline cserve::ServeOptions parse_args(int argc, char** argv) {
  cserve::ServeOptions o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s: %s needs a value\n", argv[0], argv[i]);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--host") {
      o.http.host = value();
    } else if (a == "--port") {
      std::string v = value();
      char* end = nullptr;
      long port = std::strtol(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || port < 0 || port > 65535) {
        std::fprintf(stderr, "%s: --port must be 0..65535, got '%s'\n", argv[0], v.c_str());
        std::exit(2);
      }
      o.http.port = static_cast<int>(port);
    } else if (a == "--help" || a == "-h") {
      std::printf("usage: %s [--host HOST] [--port PORT]\n", argv[0]);
      std::exit(0);
    } else {
      std::fprintf(stderr, "%s: unknown argument '%s'\nusage: %s [--host HOST] [--port PORT]\n",
                   argv[0], argv[i], argv[0]);
      std::exit(2);
    }
  }
  return o;
}

// Runs `body`, turning errors (a port in use, a failed deploy) into a message on stderr and exit
// status 1 instead of an uncaught exception.
template <class F>
int guarded_main(const char* program, F&& body) {
  try {
    body();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program, e.what());
    return 1;
  }
}

inline void announce(const cserve::Serve& serve) {
  std::printf("listening on http://%s:%d\n", serve.http_host().c_str(), serve.http_port());
  std::fflush(stdout);
}

}  // namespace examples
