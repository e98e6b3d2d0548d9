// call_server.hpp — the answering side of a wire connection (docs/wire.md): CALL frames become
// detail::Calls run where their deployment runs, and their outcomes go back as frames. The worker
// serves the calls of the serving process on its replica; the serving process serves a worker's
// handle calls through the routers of the worker's application.
//
//   auto server = std::make_shared<CallServer>(connection, [](const wire::CallHeader& header,
//                                                             detail::Call call) { ...submit... });
//   server->serve(id, call);        // value, typed, stream, typed_stream
//   server->cancel(id);             // CANCEL
//   server->credit(id, n);          // STREAM_CREDIT
//
// Every call ends with exactly one RESULT, ERROR or STREAM_END, cancelled ones included. A stream
// is pulled only while its caller has credit; a CANCEL cancels the call's context (a coroutine
// awaiting something wakes with CancelledError) and stops its stream after the pull in flight.
// Thread-safety: every member function is safe from any thread.
#pragma once

#include "wire/messages.hpp"

#include <cserve/detail/call.hpp>
#include <cserve/detail/item_source.hpp>
#include <cserve/detail/mutex.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace cserve {

namespace wire {
class WireConnection;
struct Frame;
enum class FrameType : std::uint8_t;
}  // namespace wire

class CallServer : public std::enable_shared_from_this<CallServer> {
 public:
  // Runs a call of the deployment its header names: on the worker's replica, or through a
  // router. Must answer the call (run or reject it) exactly once.
  using Execute = std::function<void(const wire::CallHeader& header, detail::Call call)>;

  CallServer(std::shared_ptr<wire::WireConnection> connection, Execute execute);

  // Takes the frames of the calls this side serves: CALL (decoded and given to `on_call`; a
  // malformed one is answered with ERROR here), CANCEL and STREAM_CREDIT. Returns false for any
  // other frame (an answer to this side's own calls).
  bool take(wire::Frame& frame, const std::function<void(std::uint64_t id, const wire::Call& call)>& on_call);
  // A CALL of kind value, typed, stream or typed_stream.
  void serve(std::uint64_t id, const wire::Call& call);
  // The context of call `id` (its request id and deadline from `h`), cancelled by a CANCEL.
  std::shared_ptr<detail::CallContext> open(std::uint64_t id, const wire::CallHeader& h);
  void cancel(std::uint64_t id);
  void credit(std::uint64_t id, std::uint32_t n);
  // Sends `items` as STREAM_ITEMs while the caller has credit (`credits` granted already), then
  // STREAM_END or ERROR; `finished` runs once it ended (it gives the replica's slot back).
  void pump(std::uint64_t id, std::shared_ptr<detail::ItemSource<std::string>> items,
            detail::UniqueFunction<void()> finished, std::uint32_t credits);
  // Ends call `id` with one frame.
  void answer(std::uint64_t id, wire::FrameType type, std::string_view payload);
  void fail(std::uint64_t id, const Failure& f);
  // The connection ended: every call still running is cancelled, every stream stopped.
  void close();

 private:
  // A stream sent to the caller item by item, one per credit it granted.
  struct Pumped {
    std::shared_ptr<detail::ItemSource<std::string>> source;
    detail::UniqueFunction<void()> finished;  // gives the replica's slot back
    std::uint32_t credits = 0;
    bool pulling = false;
    bool cancelled = false;  // the caller cancelled while a pull was in flight: stop after it
  };

  void run_value(std::uint64_t id, const wire::Call& call, std::shared_ptr<detail::CallContext> context);
  void run_typed(std::uint64_t id, const wire::Call& call, std::shared_ptr<detail::CallContext> context);
  void run_stream(std::uint64_t id, const wire::Call& call, std::shared_ptr<detail::CallContext> context);
  void pull_next(std::uint64_t id);
  bool cancelled_while_pulling(std::uint64_t id);
  void end_stream(std::uint64_t id);
  void stop_stream(std::uint64_t id, Pumped pumped);
  void forget(std::uint64_t id);

  const std::shared_ptr<wire::WireConnection> connection_;
  const Execute execute_;
  detail::Mutex mu_;
  std::map<std::uint64_t, std::shared_ptr<detail::CallContext>> contexts_ CSERVE_GUARDED_BY(mu_);
  std::map<std::uint64_t, Pumped> streams_ CSERVE_GUARDED_BY(mu_);  // streams with items to send
};

}  // namespace cserve
