// The routing half of a Connection (see connection.hpp): a request read whole goes to the
// built-in paths, the local handler (the admin API), an Open Inference Protocol route or the
// deployment whose route prefix matches, and is submitted to its router — together with the
// other requests of the same round of socket events. Runs on the connection's I/O thread.
#include "proxy/connection.hpp"

#include "proxy/builtin_routes.hpp"
#include "proxy/http_errors.hpp"
#include "proxy/inference_routes.hpp"

#include "common/describe_exception.hpp"
#include "common/logging.hpp"

#include <cserve/multiplex.hpp>

namespace cserve {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;

Headers headers_of(const http::request<http::string_body>& req) {
  Headers headers;
  headers.reserve(8);
  for (const auto& f : req) headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  return headers;
}

// The calls this I/O thread read since its last batch went out. They are submitted together once
// the handlers that are ready now have run (a post lands behind them), so that the requests of
// one round of socket events reach a replica's strand as one batch: one wake-up of a worker
// instead of one per request.
struct PendingSubmits {
  std::vector<std::pair<std::shared_ptr<Router>, detail::Call>> calls;
  std::vector<std::pair<std::shared_ptr<Router>, detail::Call>> spare;
  bool flush_posted = false;
};
thread_local PendingSubmits t_pending;

void submit_soon(asio::io_context::executor_type executor, const std::shared_ptr<Router>& router, detail::Call call) {
  t_pending.calls.emplace_back(router, std::move(call));
  if (t_pending.flush_posted) return;
  t_pending.flush_posted = true;
  asio::post(executor, [] {
    PendingSubmits& p = t_pending;
    p.flush_posted = false;
    p.calls.swap(p.spare);
    for (auto& [r, c] : p.spare) r->submit(std::move(c));
    p.spare.clear();
  });
}

}  // namespace

void Connection::route(http::request<http::string_body> req) {
  exchange_.keep_alive = req.keep_alive();
  exchange_.sse = req[http::field::accept].find("text/event-stream") != std::string_view::npos;
  exchange_.version = req.version();
  exchange_.head = req.method() == http::verb::head;
  std::string_view target = req.target();
  if (target.empty() || target.front() != '/') return fail(400, "request target must be a path starting with '/'");
  const auto q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);

  if (auto builtin = builtin_response(path, state_)) return respond(std::move(*builtin));
  if (state_.local) {
    Request local(std::string(req.method_string()), std::string(path), std::string(query), headers_of(req),
                  req.body());
    detail::RequestAccess::set_ids(local, std::string(path), exchange_.request_id);
    std::optional<Response> answer;
    try {
      answer = state_.local(local);
    } catch (...) {
      CSERVE_LOG(kError, "proxy") << "request " << exchange_.request_id << " " << path << ": "
                                  << describe_exception(std::current_exception());
      answer = error_response(500, "internal error (request " + exchange_.request_id + ")", exchange_.request_id);
    }
    if (answer) return respond(std::move(*answer));
  }

  // This thread's cached table: only this thread replaces it, on a later request.
  const std::shared_ptr<const RouteTable>& routes = state_.routes();
  if (auto inference = inference_route(req.method_string(), path, *routes, exchange_.request_id)) {
    if (log::access_log()) exchange_.access_target = std::string(target);
    const RouteTable::Model* model = inference->model;
    if (state_.record_metrics) {
      metrics_.begin("/v2", model ? model->app : std::string(), std::string(req.method_string()));
    }
    if (inference->answer) return respond(std::move(*inference->answer));
    std::shared_ptr<InferenceTimer> timer;
    if (inference->infer) timer = std::make_shared<InferenceTimer>(model->name, inference->version, "rest");
    return submit(model->router, path, req, path, query, HttpEntry::kInference, std::move(timer));
  }
  const RouteTable::Match m = routes->match(path);
  if (log::access_log()) exchange_.access_target = std::string(target);
  if (state_.record_metrics) {
    metrics_.begin(m.entry ? m.entry->prefix : std::string(), m.entry ? m.entry->app : std::string(),
                   std::string(req.method_string()));
  }
  if (m.entry == nullptr) {
    return respond(error_response(
        404, "no application is serving path '" + std::string(path) + "'; see /-/routes for the routes",
        exchange_.request_id));
  }
  submit(m.entry->router, m.rest, req, path, query, HttpEntry::kHandler);
}

void Connection::submit(const std::shared_ptr<Router>& router, std::string_view rest,
                        http::request<http::string_body>& req, std::string_view path, std::string_view query,
                        HttpEntry entry, std::shared_ptr<InferenceTimer> timer) {
  Request request(std::string(req.method_string()), std::string(rest), std::string(query), headers_of(req),
                  std::move(req.body()));
  detail::RequestAccess::set_ids(request, std::string(path), exchange_.request_id);
  auto deadline = DeadlineTimer::Clock::time_point::max();
  if (state_.options.request_timeout_s) {
    deadline = DeadlineTimer::Clock::now() + state_.timeout(*state_.options.request_timeout_s);
  }
  exchange_.context = std::make_shared<detail::CallContext>(exchange_.request_id, deadline);
  if (auto it = req.find(kMultiplexedModelIdHeader); it != req.end()) {
    exchange_.context->set_multiplexed_model_id(std::string(it->value()));
  }
  const std::uint64_t seq = ++exchange_.seq;
  phase_ = Phase::kAwaitingAnswer;
  slot_.arm(seq);
  submit_soon(socket_.get_executor(), router,
              make_http_call(shared_from_this(), seq, std::move(request), exchange_.context, entry, std::move(timer)));
  // The request's deadline; without one, a look for a worker's answer after keep_alive_timeout_s
  // (a client that neither sends nor closes after it still times out).
  timer_.set(deadline != DeadlineTimer::Clock::time_point::max()
                 ? deadline
                 : DeadlineTimer::Clock::now() + state_.timeout(state_.options.keep_alive_timeout_s),
             shared_from_this());
  watch();
}

}  // namespace cserve
