#include "worker/call_client.hpp"

#include "wire/bytes.hpp"
#include "wire/connection.hpp"
#include "wire/http_codec.hpp"

#include <cserve/detail/call_context.hpp>

#include <atomic>
#include <deque>

namespace cserve {
namespace {

using wire::Frame;
using wire::FrameType;

std::exception_ptr error_of(const Failure& f) { return to_exception(f); }

// An ERROR frame's failure, or why its payload is not one.
Failure failure_in(const Frame& frame) {
  auto e = wire::decode_error(frame.payload);
  if (auto* r = std::get_if<wire::RemoteError>(&e)) return r->failure;
  return std::get<Failure>(e);
}

Failure unexpected(const Frame& frame) {
  return {ErrorCode::kInternal, std::string("the other process answered with an unexpected ") +
                                    std::string(wire::to_string(frame.type)) + " frame"};
}

// A call answered by an empty RESULT or an ERROR.
class StatusCall final : public CallClient::Pending {
 public:
  explicit StatusCall(CallClient::Status done) : done_(std::move(done)) {}
  bool on_frame(Frame& frame) override {
    if (frame.type == FrameType::kResult) {
      done_(std::nullopt);
    } else {
      done_(frame.type == FrameType::kError ? failure_in(frame) : unexpected(frame));
    }
    return true;
  }
  void on_failure(const Failure& why) override { done_(why); }

 private:
  CallClient::Status done_;
};

// A call by name with JSON arguments: the result as MessagePack.
class ValueCall final : public CallClient::Pending {
 public:
  explicit ValueCall(detail::JsonDone done) : done_(std::move(done)) {}
  bool on_frame(Frame& frame) override {
    if (frame.type == FrameType::kResult) {
      Json j = Json::from_msgpack(frame.payload.begin(), frame.payload.end(), true, false);
      if (j.is_discarded()) {
        done_({}, error_of({ErrorCode::kInternal, "the result from the other process is not MessagePack"}));
      } else {
        done_(std::move(j), nullptr);
      }
    } else {
      done_({}, error_of(frame.type == FrameType::kError ? failure_in(frame) : unexpected(frame)));
    }
    return true;
  }
  void on_failure(const Failure& why) override { done_({}, error_of(why)); }

 private:
  detail::JsonDone done_;
};

// A typed call: the result as its codec's bytes.
class BytesCall final : public CallClient::Pending {
 public:
  explicit BytesCall(detail::BytesDone done) : done_(std::move(done)) {}
  bool on_frame(Frame& frame) override {
    if (frame.type == FrameType::kResult) {
      done_(std::move(frame.payload), nullptr);
    } else {
      done_({}, error_of(frame.type == FrameType::kError ? failure_in(frame) : unexpected(frame)));
    }
    return true;
  }
  void on_failure(const Failure& why) override { done_({}, error_of(why)); }

 private:
  detail::BytesDone done_;
};

// The items of a stream in the other process (an HTTP answer's chunks, or a handle's stream), pulled
// one credit at a time: the producer sends an item only for a credit granted, so a slow consumer slows
// the generator instead of filling memory.
class RemoteItems final : public detail::ItemSource<std::string> {
 public:
  // `granted`: credits the producer already holds (the CALL header's).
  RemoteItems(std::weak_ptr<CallClient> client, std::uint64_t call_id, std::uint32_t granted)
      : client_(std::move(client)), call_id_(call_id), granted_(granted) {}

  // For a stream made before its CALL was sent (and its id known); before the first pull.
  void set_call_id(std::uint64_t id) { call_id_.store(id, std::memory_order_release); }

  void pull(Callback cb) override {
    std::optional<std::string> item;
    std::exception_ptr error;
    bool grant = false;
    {
      detail::MutexLock lock(mu_);
      if (items_.empty() && !ended_) {
        waiting_ = std::move(cb);
        grant = granted_ == 0;
        if (grant) ++granted_;
      } else if (!items_.empty()) {
        item = std::move(items_.front());
        items_.pop_front();
      } else {
        error = error_;
      }
    }
    if (grant) {
      std::string credit;
      wire::put_u32(credit, 1);
      if (auto r = client_.lock()) r->send_frame(FrameType::kStreamCredit, call_id(), credit);
    }
    if (cb) cb(std::move(item), error);
  }

  void cancel() override {
    {
      detail::MutexLock lock(mu_);
      if (ended_) return;
      ended_ = true;
    }
    if (auto r = client_.lock()) r->send_frame(FrameType::kCancel, call_id(), "");
  }

  void push(std::string item) {
    Callback cb;
    {
      detail::MutexLock lock(mu_);
      if (granted_ > 0) --granted_;
      if (!waiting_) {
        items_.push_back(std::move(item));
        return;
      }
      cb = std::move(waiting_);
    }
    cb(std::move(item), nullptr);
  }

  void end(std::exception_ptr error) {
    Callback cb;
    {
      detail::MutexLock lock(mu_);
      ended_ = true;
      error_ = error;
      cb = std::move(waiting_);
    }
    if (cb) cb(std::nullopt, error);
  }

  // A STREAM_ITEM, STREAM_END or ERROR frame of this stream; true when it ended the stream.
  bool on_frame(Frame& frame) {
    switch (frame.type) {
      case FrameType::kStreamItem:
        push(std::move(frame.payload));
        return false;
      case FrameType::kStreamEnd:
        end(nullptr);
        return true;
      case FrameType::kError:
        end(error_of(failure_in(frame)));
        return true;
      default:
        end(error_of(unexpected(frame)));
        return true;
    }
  }

 private:
  std::uint64_t call_id() const { return call_id_.load(std::memory_order_acquire); }

  const std::weak_ptr<CallClient> client_;
  std::atomic<std::uint64_t> call_id_;
  detail::Mutex mu_;
  std::uint32_t granted_ CSERVE_GUARDED_BY(mu_);  // items the producer may still send unasked
  std::deque<std::string> items_ CSERVE_GUARDED_BY(mu_);
  bool ended_ CSERVE_GUARDED_BY(mu_) = false;
  std::exception_ptr error_ CSERVE_GUARDED_BY(mu_);
  Callback waiting_ CSERVE_GUARDED_BY(mu_);
};

// A stream through a handle: STREAM_ITEMs, then STREAM_END or ERROR (also for a method that
// failed before its first item).
class StreamCall final : public CallClient::Pending {
 public:
  explicit StreamCall(std::shared_ptr<RemoteItems> items) : items_(std::move(items)) {}
  bool on_frame(Frame& frame) override { return items_->on_frame(frame); }
  void on_failure(const Failure& why) override { items_->end(error_of(why)); }

 private:
  std::shared_ptr<RemoteItems> items_;
};

// An HTTP request: RESULT (the response), or HTTP_HEAD then STREAM_ITEMs and STREAM_END/ERROR.
class HttpCall final : public CallClient::Pending {
 public:
  HttpCall(detail::OutcomeCallback done, std::weak_ptr<CallClient> client)
      : done_(std::move(done)), client_(std::move(client)) {}

  bool on_frame(Frame& frame) override {
    if (chunks_) return chunks_->on_frame(frame);
    switch (frame.type) {
      case FrameType::kResult: {
        auto r = wire::decode_response(frame.payload);
        if (auto* f = std::get_if<Failure>(&r)) return fail(*f);
        done_(detail::HandlerOutcome{std::move(std::get<Response>(r)), nullptr, nullptr});
        return true;
      }
      case FrameType::kHttpHead: {
        wire::ByteReader in(frame.payload);
        auto head_len = in.u32();
        auto head_bytes = head_len ? in.bytes(*head_len) : std::nullopt;
        auto has_first = in.bytes(1);
        if (!head_bytes || !has_first) return fail({ErrorCode::kInternal, "malformed HTTP_HEAD from the other process"});
        auto head = wire::decode_response(*head_bytes);
        if (auto* f = std::get_if<Failure>(&head)) return fail(*f);
        const bool empty = (*has_first)[0] == 0;
        chunks_ = std::make_shared<RemoteItems>(client_, frame.call_id, /*granted=*/0);
        if (empty) {
          chunks_->end(nullptr);
        } else {
          chunks_->push(std::string(in.rest()));
        }
        done_(detail::HandlerOutcome{std::move(std::get<Response>(head)), nullptr, chunks_});
        return empty;
      }
      case FrameType::kError:
        return fail(failure_in(frame));
      default:
        return fail(unexpected(frame));
    }
  }

  void on_failure(const Failure& why) override {
    if (chunks_) {
      chunks_->end(error_of(why));
    } else {
      done_(detail::HandlerOutcome{{}, error_of(why), nullptr});
    }
  }

 private:
  bool fail(const Failure& why) {
    on_failure(why);
    return true;
  }

  detail::OutcomeCallback done_;
  const std::weak_ptr<CallClient> client_;
  std::shared_ptr<RemoteItems> chunks_;
};

wire::CallHeader header_for(const std::string& application, const std::string& deployment, std::string method,
                            wire::CallKind kind) {
  wire::CallHeader h;
  h.application = application;
  h.deployment = deployment;
  h.method = std::move(method);
  h.kind = kind;
  if (auto call = detail::current_call()) {
    h.request_id = call->request_id();
    h.multiplexed_model_id = call->multiplexed_model_id();
    if (call->deadline() != detail::CallContext::TimePoint::max()) {
      h.deadline_ms = std::max<std::int64_t>(
          0, std::chrono::duration_cast<std::chrono::milliseconds>(call->deadline() - std::chrono::steady_clock::now())
                 .count());
    }
  }
  return h;
}

// What a router's Call runs against: each operation becomes a CALL to the other end.
class RemoteCallable final : public detail::ReplicaCallable {
 public:
  RemoteCallable(std::shared_ptr<CallClient> client, std::string deployment, std::string application)
      : client_(std::move(client)), deployment_(std::move(deployment)), application_(std::move(application)) {}

  void handle(Request& req, detail::OutcomeCallback done) override { http(kHandlerMethod, req, std::move(done)); }

  void handle_inference(Request& req, detail::OutcomeCallback done) override {
    http(kInferenceMethod, req, std::move(done));
  }

  void call_method(const std::string& name, Json args, detail::JsonDone done) override {
    std::string bytes;
    Json::to_msgpack(args, bytes);
    send(wire::encode_call(header_for(application_, deployment_, name, wire::CallKind::kValue), {std::move(bytes)}),
         std::make_unique<ValueCall>(std::move(done)));
  }

  void call_encoded(const std::string& name, std::vector<std::string> args, detail::BytesDone done) override {
    send(wire::encode_call(header_for(application_, deployment_, name, wire::CallKind::kTyped), args),
         std::make_unique<BytesCall>(std::move(done)));
  }

  bool in_other_process() const override { return true; }

  std::shared_ptr<detail::ItemSource<Json>> open_stream(const std::string& name, const Json& args) override {
    std::string bytes;
    Json::to_msgpack(args, bytes);
    std::shared_ptr<detail::ItemSource<std::string>> items = open(name, wire::CallKind::kStream, {std::move(bytes)});
    return detail::map_items<Json>(std::move(items), [](std::string item) {
      Json j = Json::from_msgpack(item.begin(), item.end(), true, false);
      if (j.is_discarded()) throw Error("a stream item from the other process is not MessagePack", ErrorCode::kInternal);
      return j;
    });
  }

  std::shared_ptr<detail::ItemSource<std::string>> open_encoded_stream(const std::string& name,
                                                                       std::vector<std::string> args) override {
    return open(name, wire::CallKind::kTypedStream, std::move(args));
  }

  void reconfigure(const Json&) override {}   // lifecycle hooks are ProcessReplica's own calls
  void check_health() override {}             // likewise
  void* object() override {  // typed calls check in_other_process() and encode instead
    throw Error("deployment '" + deployment_ + "' runs in another process: its object is there",
                ErrorCode::kInternal);
  }

 private:
  void http(const char* method, Request& req, detail::OutcomeCallback done) {
    wire::CallHeader h = header_for(application_, deployment_, method, wire::CallKind::kHttp);
    h.request_id = req.request_id();
    send(wire::encode_call(h, {wire::encode_request(req)}), std::make_unique<HttpCall>(std::move(done), client_));
  }

  // A stream call: the producer may send its first item at once (one credit in the header).
  std::shared_ptr<RemoteItems> open(const std::string& name, wire::CallKind kind, std::vector<std::string> args) {
    wire::CallHeader h = header_for(application_, deployment_, name, kind);
    h.credits = 1;
    auto items = std::make_shared<RemoteItems>(client_, 0, h.credits);
    items->set_call_id(send(wire::encode_call(h, args), std::make_unique<StreamCall>(items)));
    return items;
  }

  // The call's id (0 when it failed at once).
  std::uint64_t send(std::string payload, std::unique_ptr<CallClient::Pending> pending) {
    const std::uint64_t id = client_->send_call(std::move(payload), std::move(pending));
    auto call = detail::current_call();
    if (id != 0 && call) {
      call->on_cancel([weak = std::weak_ptr<CallClient>(client_), id] {
        if (auto c = weak.lock()) c->send_frame(FrameType::kCancel, id, "");
      });
    }
    return id;
  }

  const std::shared_ptr<CallClient> client_;
  const std::string deployment_;
  const std::string application_;
};

}  // namespace

void CallClient::attach(std::shared_ptr<wire::WireConnection> connection) {
  detail::MutexLock lock(mu_);
  connection_ = std::move(connection);
}

std::uint64_t CallClient::send_call(std::string payload, std::unique_ptr<Pending> pending) {
  std::uint64_t call_id = 0;
  std::shared_ptr<wire::WireConnection> connection;
  std::optional<Failure> refused;
  {
    detail::MutexLock lock(mu_);
    if (refused_ || !connection_) {
      refused = refused_.value_or(Failure{ErrorCode::kUnavailable, "not connected yet"});
    } else {
      call_id = next_id_;
      next_id_ += 2;
      pending_.emplace(call_id, std::move(pending));
      connection = connection_;
    }
  }
  if (refused) {
    pending->on_failure(*refused);
    return 0;
  }
  connection->send(FrameType::kCall, call_id, payload);
  return call_id;
}

std::uint64_t CallClient::send_status_call(std::string payload, Status done) {
  return send_call(std::move(payload), std::make_unique<StatusCall>(std::move(done)));
}

void CallClient::send_frame(FrameType type, std::uint64_t call_id, std::string_view payload) {
  std::shared_ptr<wire::WireConnection> connection;
  {
    detail::MutexLock lock(mu_);
    connection = connection_;
  }
  if (connection) connection->send(type, call_id, payload);
}

void CallClient::on_frame(Frame& frame) {
  Pending* p = nullptr;
  {
    detail::MutexLock lock(mu_);
    auto it = pending_.find(frame.call_id);
    if (it == pending_.end()) return;  // a call that ended (e.g. cancelled): late frames are dropped
    p = it->second.get();
  }
  // Only the I/O thread erases entries (here and in fail_pending, which it also runs), so `p`
  // stays valid while it runs.
  if (p->on_frame(frame)) {
    std::unique_ptr<Pending> ended;
    detail::MutexLock lock(mu_);
    auto it = pending_.find(frame.call_id);
    if (it != pending_.end()) {
      ended = std::move(it->second);
      pending_.erase(it);
    }
  }
}

void CallClient::refuse(Failure why) {
  std::shared_ptr<wire::WireConnection> connection;
  {
    detail::MutexLock lock(mu_);
    if (!refused_) refused_ = std::move(why);
    connection = std::move(connection_);  // nothing more goes out: the connection may go (no cycle through its handlers)
  }
}

void CallClient::fail_pending(const Failure& why) {
  std::map<std::uint64_t, std::unique_ptr<Pending>> pending;
  {
    detail::MutexLock lock(mu_);
    pending.swap(pending_);
  }
  for (auto& [id, p] : pending) p->on_failure(why);
}

std::unique_ptr<detail::ReplicaCallable> remote_callable(std::shared_ptr<CallClient> client, std::string deployment,
                                                         std::string application) {
  return std::make_unique<RemoteCallable>(std::move(client), std::move(deployment), std::move(application));
}

}  // namespace cserve
