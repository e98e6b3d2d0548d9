// http_proxy.hpp — the HTTP/1.1 server in front of the applications.
//
// I/O threads (one io_context each) accept, parse, route and write; user code never runs on
// them: a request goes to the router of the ingress deployment whose route_prefix is the
// longest match, and the response comes back to the connection's own thread. Keep-alive and
// pipelining are supported (pipelined requests are answered in order). Built-in paths:
// /-/healthz (200 "success", 503 while draining) and /-/routes (route_prefix -> application).
//
// Error answers: malformed request 400, headers over max_header_bytes 431, body over
// max_body_bytes 413, unknown route 404, request headers or body not received in time 408;
// each with a JSON body {"error", "request_id"} and the connection closed after it.
//
// Lifecycle:  constructed --start()--> serving --drain()--> draining --stop()--> stopped
// Completions that arrive while draining or after stop() are dropped safely, as long as the
// proxy object outlives the threads that deliver them (the runtime stops the worker pool first).
// Thread-safety: set_routes() is safe from any thread; start(), drain() and stop() from one owner.
#pragma once

#include "common/clock.hpp"
#include "proxy/proxy_state.hpp"
#include "router/route_table.hpp"

#include <cserve/serve.hpp>

#include "common/serving_thread.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace cserve {

class HttpProxy {
 public:
  // Answers a request on the I/O thread itself, before the route table (the admin API); nullopt
  // lets it go on to the routes. Must be quick: it blocks the connection's thread.
  using LocalHandler = ProxyState::LocalHandler;

  // `record_metrics`: count this proxy's requests in the cserve_num_http_* metrics. `policy`: how
  // the I/O threads are scheduled (serving_thread.hpp).
  explicit HttpProxy(HttpOptions options, LocalHandler local = {}, bool record_metrics = true,
                     ThreadPolicy policy = {});
  ~HttpProxy();
  HttpProxy(const HttpProxy&) = delete;
  HttpProxy& operator=(const HttpProxy&) = delete;

  // Binds and starts the I/O threads. Throws cserve::Error when the address cannot be bound.
  void start();
  int port() const;
  void set_routes(std::shared_ptr<const RouteTable> routes);
  // Stops accepting, closes idle connections and waits (at most `timeout`) for the requests in
  // flight to be answered; then closes the connections left, cancelling their requests.
  // Idempotent.
  void drain(Duration timeout);
  // Closes every connection left and joins the I/O threads. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cserve
