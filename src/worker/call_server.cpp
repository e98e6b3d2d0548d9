#include "worker/call_server.hpp"

#include "replica/replica.hpp"
#include "wire/bytes.hpp"
#include "wire/connection.hpp"

#include <cserve/detail/call_context.hpp>
#include <cserve/detail/callable.hpp>

#include <chrono>
#include <vector>

namespace cserve {
namespace {

using wire::FrameType;

std::string msgpack_of(const Json& j) {
  std::string out;
  Json::to_msgpack(j, out);
  return out;
}

// A call by name's arguments: one MessagePack array.
Json json_arguments(const wire::Call& call) {
  if (call.arguments.size() == 1) {
    Json j = Json::from_msgpack(call.arguments[0].begin(), call.arguments[0].end(), true, false);
    if (!j.is_discarded() && j.is_array()) return j;
  }
  throw Error("a call by name takes one argument: a MessagePack array of its arguments", ErrorCode::kInvalidArgument);
}

}  // namespace

CallServer::CallServer(std::shared_ptr<wire::WireConnection> connection, Execute execute)
    : connection_(std::move(connection)), execute_(std::move(execute)) {}

bool CallServer::take(wire::Frame& frame,
                      const std::function<void(std::uint64_t id, const wire::Call& call)>& on_call) {
  switch (frame.type) {
    case FrameType::kCall: {
      auto call = wire::decode_call(frame.payload);
      if (auto* f = std::get_if<Failure>(&call)) {
        fail(frame.call_id, *f);
      } else {
        on_call(frame.call_id, std::get<wire::Call>(call));
      }
      return true;
    }
    case FrameType::kCancel:
      cancel(frame.call_id);
      return true;
    case FrameType::kStreamCredit: {
      wire::ByteReader in(frame.payload);
      if (auto n = in.u32()) credit(frame.call_id, *n);
      return true;
    }
    default:
      return false;
  }
}

std::shared_ptr<detail::CallContext> CallServer::open(std::uint64_t id, const wire::CallHeader& h) {
  auto context = std::make_shared<detail::CallContext>(
      h.request_id, h.deadline_ms ? std::chrono::steady_clock::now() + std::chrono::milliseconds(*h.deadline_ms)
                                  : detail::CallContext::TimePoint::max());
  context->set_multiplexed_model_id(h.multiplexed_model_id);
  detail::MutexLock lock(mu_);
  contexts_[id] = context;
  return context;
}

void CallServer::serve(std::uint64_t id, const wire::Call& call) {
  auto context = open(id, call.header);
  switch (call.header.kind) {
    case wire::CallKind::kValue:
      return run_value(id, call, std::move(context));
    case wire::CallKind::kTyped:
      return run_typed(id, call, std::move(context));
    case wire::CallKind::kStream:
    case wire::CallKind::kTypedStream:
      return run_stream(id, call, std::move(context));
    case wire::CallKind::kHttp:
      break;
  }
  fail(id, {ErrorCode::kInvalidArgument, "this side of the connection does not serve HTTP calls"});
}

// A call by name: MessagePack in, MessagePack out.
void CallServer::run_value(std::uint64_t id, const wire::Call& call, std::shared_ptr<detail::CallContext> context) {
  Json args;
  try {
    args = json_arguments(call);
  } catch (const Error& e) {
    return fail(id, {e.code(), e.what()});
  }
  detail::Call c;
  c.context = std::move(context);
  c.run = [self = shared_from_this(), id, name = call.header.method, args = std::move(args),
           rid = call.header.request_id](detail::ReplicaCallable& target, detail::UniqueFunction<void()> done) mutable {
    target.call_method(name, std::move(args), [self, id, name, rid, done = std::move(done)](
                                                  Json result, std::exception_ptr error) mutable {
      done();
      if (error) return self->fail(id, describe_handler_failure(error, rid, "method " + name));
      self->answer(id, FrameType::kResult, msgpack_of(result));
    });
  };
  c.reject = [self = shared_from_this(), id](Failure f) { self->fail(id, f); };
  execute_(call.header, std::move(c));
}

// A typed handle call: codec bytes in, codec bytes out.
void CallServer::run_typed(std::uint64_t id, const wire::Call& call, std::shared_ptr<detail::CallContext> context) {
  detail::Call c;
  c.context = std::move(context);
  c.run = [self = shared_from_this(), id, name = call.header.method,
           args = std::vector<std::string>(call.arguments.begin(), call.arguments.end()),
           rid = call.header.request_id](detail::ReplicaCallable& target, detail::UniqueFunction<void()> done) mutable {
    target.call_encoded(name, std::move(args), [self, id, name, rid, done = std::move(done)](
                                                   std::string result, std::exception_ptr error) mutable {
      done();
      if (error) return self->fail(id, describe_handler_failure(error, rid, "method " + name));
      self->answer(id, FrameType::kResult, result);
    });
  };
  c.reject = [self = shared_from_this(), id](Failure f) { self->fail(id, f); };
  execute_(call.header, std::move(c));
}

// A stream through a handle: by name (MessagePack arguments and items) or typed (codec bytes).
// Its first items go out on the credits of the CALL header, the rest as the caller grants more.
void CallServer::run_stream(std::uint64_t id, const wire::Call& call, std::shared_ptr<detail::CallContext> context) {
  const auto& h = call.header;
  const bool typed = h.kind == wire::CallKind::kTypedStream;
  Json json_args;
  if (!typed) {
    try {
      json_args = json_arguments(call);
    } catch (const Error& e) {
      return fail(id, {e.code(), e.what()});
    }
  }
  detail::Call c;
  c.context = std::move(context);
  c.run = [self = shared_from_this(), id, name = h.method, typed, json_args = std::move(json_args),
           args = std::vector<std::string>(call.arguments.begin(), call.arguments.end()), credits = h.credits,
           rid = h.request_id](detail::ReplicaCallable& target, detail::UniqueFunction<void()> done) mutable {
    std::shared_ptr<detail::ItemSource<std::string>> items;
    try {
      if (typed) {
        items = target.open_encoded_stream(name, std::move(args));
      } else {
        items = detail::map_items<std::string>(target.open_stream(name, json_args),
                                               [](Json item) { return msgpack_of(item); });
      }
    } catch (...) {
      done();
      return self->fail(id, describe_handler_failure(std::current_exception(), rid, "method " + name));
    }
    self->pump(id, std::move(items), std::move(done), credits);
  };
  c.reject = [self = shared_from_this(), id](Failure f) { self->fail(id, f); };
  execute_(h, std::move(c));
}

void CallServer::pump(std::uint64_t id, std::shared_ptr<detail::ItemSource<std::string>> items,
                      detail::UniqueFunction<void()> finished, std::uint32_t credits) {
  {
    detail::MutexLock lock(mu_);
    streams_[id] = Pumped{std::move(items), std::move(finished)};
  }
  if (credits > 0) credit(id, credits);
}

void CallServer::answer(std::uint64_t id, FrameType type, std::string_view payload) {
  forget(id);
  connection_->send(type, id, payload);
}

void CallServer::fail(std::uint64_t id, const Failure& f) { answer(id, FrameType::kError, wire::encode_error(f)); }

void CallServer::forget(std::uint64_t id) {
  detail::MutexLock lock(mu_);
  contexts_.erase(id);
}

void CallServer::cancel(std::uint64_t id) {
  std::shared_ptr<detail::CallContext> context;
  Pumped pumped;
  {
    detail::MutexLock lock(mu_);
    if (auto it = contexts_.find(id); it != contexts_.end()) context = it->second;
    if (auto it = streams_.find(id); it != streams_.end()) {
      if (it->second.pulling) {
        it->second.cancelled = true;
      } else {
        pumped = std::move(it->second);
        streams_.erase(it);
        contexts_.erase(id);
      }
    }
  }
  if (context) context->cancel(detail::CancelReason::kCancelled);
  if (pumped.source) stop_stream(id, std::move(pumped));
}

// A cancelled stream stops; its call still ends with one frame, as every call does.
void CallServer::stop_stream(std::uint64_t id, Pumped pumped) {
  pumped.source->cancel();
  pumped.finished();
  connection_->send(FrameType::kError, id,
                    wire::encode_error({ErrorCode::kCancelled, "the caller cancelled the stream"}));
}

void CallServer::credit(std::uint64_t id, std::uint32_t n) {
  bool pull = false;
  {
    detail::MutexLock lock(mu_);
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    it->second.credits += n;
    pull = !it->second.pulling;
    it->second.pulling = true;
  }
  if (pull) pull_next(id);
}

// Pulls items while the caller has credit.
void CallServer::pull_next(std::uint64_t id) {
  std::shared_ptr<detail::ItemSource<std::string>> source;
  {
    detail::MutexLock lock(mu_);
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    source = it->second.source;
  }
  source->pull([self = shared_from_this(), id](std::optional<std::string> item, std::exception_ptr error) {
    if (self->cancelled_while_pulling(id)) return;
    if (error || !item) {
      if (error) {
        self->connection_->send(FrameType::kError, id,
                                wire::encode_error(describe_handler_failure(error, "", "a stream")));
      } else {
        self->connection_->send(FrameType::kStreamEnd, id, "");
      }
      return self->end_stream(id);
    }
    self->connection_->send(FrameType::kStreamItem, id, *item);
    bool more = false;
    {
      detail::MutexLock lock(self->mu_);
      auto it = self->streams_.find(id);
      if (it == self->streams_.end()) return;
      more = --it->second.credits > 0;
      it->second.pulling = more;
    }
    if (more) self->pull_next(id);
  });
}

// After a pull: true (and the stream stopped, its slot given back) when the caller cancelled
// during it.
bool CallServer::cancelled_while_pulling(std::uint64_t id) {
  Pumped pumped;
  {
    detail::MutexLock lock(mu_);
    auto it = streams_.find(id);
    if (it == streams_.end() || !it->second.cancelled) return false;
    pumped = std::move(it->second);
    streams_.erase(it);
    contexts_.erase(id);
  }
  stop_stream(id, std::move(pumped));
  return true;
}

void CallServer::end_stream(std::uint64_t id) {
  Pumped pumped;
  {
    detail::MutexLock lock(mu_);
    auto it = streams_.find(id);
    if (it == streams_.end()) return;
    pumped = std::move(it->second);
    streams_.erase(it);
    contexts_.erase(id);
  }
  pumped.finished();
}

void CallServer::close() {
  std::map<std::uint64_t, std::shared_ptr<detail::CallContext>> contexts;
  std::map<std::uint64_t, Pumped> streams;
  {
    detail::MutexLock lock(mu_);
    contexts.swap(contexts_);
    for (auto it = streams_.begin(); it != streams_.end();) {
      if (it->second.pulling) {  // stopped when its pull returns
        it->second.cancelled = true;
        ++it;
      } else {
        streams.insert(streams_.extract(it++));
      }
    }
  }
  for (auto& [id, context] : contexts) context->cancel(detail::CancelReason::kCancelled);
  for (auto& [id, pumped] : streams) {
    pumped.source->cancel();
    pumped.finished();
  }
}

}  // namespace cserve
