// call_client.hpp — the calling side of a wire connection (docs/wire.md): calls go out as CALL
// frames and complete from the frames that answer them. Both ends of a worker's connection call:
// the serving process calls the replica in the worker, and the replica calls the deployments it
// holds handles to, which the serving process routes.
//
//   auto client = std::make_shared<CallClient>(/*first_id=*/1);      // odd ids: the opening side
//   client->attach(connection);
//   auto target = remote_callable(client, "Model");                   // a ReplicaCallable
//   call.run(*target, done);                                          // a router's Call runs on it
//   ... the connection's answer frames: client->on_frame(frame)
//
// The remote callable turns each ReplicaCallable operation into one CALL: an HTTP request, a call
// by name (MessagePack), a typed call (codec bytes), a stream by name or typed. Its request id and
// deadline come from the current call's context, whose cancellation sends CANCEL. A stream's
// items arrive one per credit granted (RemoteItems).
// Thread-safety: every member function is safe from any thread; answers complete on the
// connection's I/O thread.
#pragma once

#include <cserve/detail/callable.hpp>
#include <cserve/detail/mutex.hpp>
#include <cserve/error.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace cserve {

namespace wire {
class WireConnection;
struct Frame;
enum class FrameType : std::uint8_t;
}  // namespace wire

// The methods of the two kinds of HTTP call: to the deployment's HTTP entry point, and to the
// model it serves over the Open Inference Protocol.
inline constexpr const char* kHandlerMethod = "__http__";
inline constexpr const char* kInferenceMethod = "__inference__";

class CallClient : public std::enable_shared_from_this<CallClient> {
 public:
  // A call waiting for frames from the peer.
  class Pending {
   public:
    virtual ~Pending() = default;
    // A frame of this call; true when the call has ended.
    virtual bool on_frame(wire::Frame& frame) = 0;
    // The connection ended (or was never there) before the call did.
    virtual void on_failure(const Failure& why) = 0;
  };
  using Status = detail::UniqueFunction<void(std::optional<Failure>)>;

  // `first_id`: 1 on the side that opened the connection, 2 on the other (ids go up by two).
  explicit CallClient(std::uint64_t first_id) : next_id_(first_id) {}

  void attach(std::shared_ptr<wire::WireConnection> connection);
  // Sends a CALL whose frames go to `pending`; fails it at once (returning 0) when no call can
  // be sent. Returns the call id.
  std::uint64_t send_call(std::string payload, std::unique_ptr<Pending> pending);
  // A call answered by an empty RESULT or an ERROR (a worker's lifecycle hooks).
  std::uint64_t send_status_call(std::string payload, Status done);
  void send_frame(wire::FrameType type, std::uint64_t call_id, std::string_view payload);
  // A RESULT, ERROR, HTTP_HEAD, STREAM_ITEM or STREAM_END from the peer. Frames of calls that
  // ended (cancelled ones) are dropped.
  void on_frame(wire::Frame& frame);
  // From now on calls fail at once with `why` (the connection is gone); the client lets go of it.
  void refuse(Failure why);
  // Fails every call in flight with `why`.
  void fail_pending(const Failure& why);

 private:
  detail::Mutex mu_;
  std::shared_ptr<wire::WireConnection> connection_ CSERVE_GUARDED_BY(mu_);
  std::uint64_t next_id_ CSERVE_GUARDED_BY(mu_);
  std::map<std::uint64_t, std::unique_ptr<Pending>> pending_ CSERVE_GUARDED_BY(mu_);
  std::optional<Failure> refused_ CSERVE_GUARDED_BY(mu_);
};

// A ReplicaCallable whose operations are calls over `client` to `deployment` (the replica on the
// other end, or the deployment the other end routes to) of `application` (empty: the one the
// connection serves; a peer node's calls name it). object() throws: typed calls check
// in_other_process() and encode instead.
std::unique_ptr<detail::ReplicaCallable> remote_callable(std::shared_ptr<CallClient> client, std::string deployment,
                                                         std::string application = "");

}  // namespace cserve
