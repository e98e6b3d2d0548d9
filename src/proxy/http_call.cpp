#include "proxy/http_call.hpp"

#include "proxy/http_errors.hpp"
#include "replica/replica.hpp"

namespace cserve {
namespace {

// The answer to a handler's exception: an HttpError is the user's answer; anything else is a
// Failure with its reason code.
Response answer_for_exception(const std::exception_ptr& error, const Request& req) {
  try {
    std::rethrow_exception(error);
  } catch (const HttpError& e) {
    Response r = error_response(e.status(), e.what(), req.request_id());
    r.headers.insert(r.headers.end(), e.headers().begin(), e.headers().end());
    return r;
  } catch (...) {
    return failure_response(
        describe_handler_failure(std::current_exception(), req.request_id(), req.method() + " " + req.full_path()),
        req.request_id());
  }
}

}  // namespace

detail::Call make_http_call(std::shared_ptr<AnswerSink> sink, std::uint64_t seq, Request request,
                            std::shared_ptr<detail::CallContext> context, HttpEntry entry,
                            std::shared_ptr<InferenceTimer> timer) {
  detail::Call call;
  call.context = std::move(context);
  call.run = [sink, seq, entry, timer, req = std::move(request)](detail::ReplicaCallable& target,
                                                                  detail::UniqueFunction<void()> done) mutable {
    if (timer) timer->started();
    // The request lives until its handler finishes, however long a coroutine takes.
    auto request = std::make_unique<Request>(std::move(req));
    Request& r = *request;
    detail::OutcomeCallback answer = [sink = std::move(sink), seq, timer = std::move(timer), request = std::move(request),
                                      done = std::move(done)](detail::HandlerOutcome out) mutable {
      if (out.stream) {
        auto source = out.stream;
        source->pull([sink = std::move(sink), seq, head = std::move(out.response), source,
                      request = std::move(request), done = std::move(done)](
                         std::optional<std::string> first, std::exception_ptr error) mutable {
          if (error) {
            Response answer = answer_for_exception(error, *request);
            done();
            return sink->answer(seq, std::move(answer));
          }
          // The generator may hold a reference to the request: keep it until the stream ends.
          auto finished = [request = std::move(request), done = std::move(done)]() mutable {
            request.reset();
            done();
          };
          sink->post_stream(seq, std::move(head), std::move(first), std::move(source), std::move(finished));
        });
        return;
      }
      Response answer = out.error ? answer_for_exception(out.error, *request) : std::move(out.response);
      if (timer) {
        timer->finished(answer.status < 400 ? std::nullopt
                                            : std::optional<ErrorCode>(HttpError::code_for_status(answer.status)));
      }
      done();  // the slot first: a client that sends its next request at once finds it free
      sink->answer(seq, std::move(answer));
    };
    if (entry == HttpEntry::kInference) return target.handle_inference(r, std::move(answer));
    target.handle(r, std::move(answer));
  };
  call.reject = [sink, seq, context = call.context, timer = std::move(timer)](Failure f) {
    if (timer) timer->finished(f.code);
    sink->answer(seq, failure_response(f, context->request_id()));  // the request's own id
  };
  return call;
}

}  // namespace cserve
