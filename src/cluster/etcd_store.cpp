#include "cluster/etcd_store.hpp"

#include "etcd_rpc.grpc.pb.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <sstream>
#include <thread>

namespace cserve::cluster {
namespace {

namespace pb = etcdserverpb;

// "http://host:port" -> "host:port"; refuses what cserve cannot speak.
std::string host_port_of(const std::string& endpoint) {
  std::string e = endpoint;
  if (e.rfind("https://", 0) == 0) throw ConfigError("etcd endpoint '" + endpoint + "': TLS (https) is not supported yet");
  if (e.rfind("http://", 0) == 0) e = e.substr(7);
  while (!e.empty() && e.back() == '/') e.pop_back();
  const auto colon = e.rfind(':');
  if (e.empty() || colon == std::string::npos || colon + 1 == e.size() ||
      e.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
    throw ConfigError("etcd endpoint '" + endpoint + "' is not http://HOST:PORT");
  }
  return e;
}

bool is_ipv4(const std::string& host) {
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots == 3;
}

// One channel target for every endpoint: gRPC's ipv4: scheme takes a list (pick_first moves to
// the next address when one fails); host names go through DNS, one endpoint at a time.
std::string target_of(const std::vector<std::string>& endpoints) {
  if (endpoints.empty()) throw ConfigError("no etcd endpoint given");
  std::vector<std::string> hps;
  bool all_ipv4 = true;
  for (const auto& e : endpoints) {
    hps.push_back(host_port_of(e));
    all_ipv4 = all_ipv4 && is_ipv4(hps.back().substr(0, hps.back().rfind(':')));
  }
  if (hps.size() == 1 && !all_ipv4) return "dns:///" + hps[0];
  if (!all_ipv4) throw ConfigError("several etcd endpoints must be IPv4 addresses (host names: give one)");
  std::string t = "ipv4:";
  for (std::size_t i = 0; i < hps.size(); ++i) t += (i ? "," : "") + hps[i];
  return t;
}

// A failed call as a StoreError: unreachable, or what etcd said.
[[noreturn]] void fail(const grpc::Status& s, const std::string& what) {
  const std::string message = s.error_message();
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE || s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    throw StoreError(StoreError::Kind::kUnavailable, "etcd " + what + ": " + message);
  }
  if (message.find("lease not found") != std::string::npos) throw StoreError(StoreError::Kind::kNoLease, message);
  if (message.find("compacted") != std::string::npos) throw StoreError(StoreError::Kind::kCompacted, message);
  throw StoreError(StoreError::Kind::kRejected, "etcd " + what + ": " + message);
}

KeyValue from_pb(const pb::KeyValue& kv) {
  return {kv.key(), kv.value(), kv.create_revision(), kv.mod_revision(), kv.version(), kv.lease()};
}

void to_pb(const Op& op, pb::RequestOp& out) {
  switch (op.kind) {
    case Op::Kind::kPut: {
      auto* p = out.mutable_request_put();
      p->set_key(op.key);
      p->set_value(op.value);
      p->set_lease(op.lease);
      break;
    }
    case Op::Kind::kDelete: out.mutable_request_delete_range()->set_key(op.key); break;
    case Op::Kind::kDeletePrefix: {
      auto* d = out.mutable_request_delete_range();
      d->set_key(op.key);
      d->set_range_end(prefix_end(op.key));
      break;
    }
  }
}

void to_pb(const Compare& c, pb::Compare& out) {
  out.set_key(c.key);
  switch (c.result) {
    case Compare::Result::kEqual: out.set_result(pb::Compare::EQUAL); break;
    case Compare::Result::kNotEqual: out.set_result(pb::Compare::NOT_EQUAL); break;
    case Compare::Result::kGreater: out.set_result(pb::Compare::GREATER); break;
    case Compare::Result::kLess: out.set_result(pb::Compare::LESS); break;
  }
  switch (c.target) {
    case Compare::Target::kVersion:
      out.set_target(pb::Compare::VERSION);
      out.set_version(c.number);
      break;
    case Compare::Target::kCreateRevision:
      out.set_target(pb::Compare::CREATE);
      out.set_create_revision(c.number);
      break;
    case Compare::Target::kModRevision:
      out.set_target(pb::Compare::MOD);
      out.set_mod_revision(c.number);
      break;
    case Compare::Target::kValue:
      out.set_target(pb::Compare::VALUE);
      out.set_value(c.value);
      break;
  }
}

}  // namespace

std::vector<std::string> parse_etcd_endpoints(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    host_port_of(item);  // throws for a bad one
    out.push_back(item);
  }
  if (out.empty()) throw ConfigError("--etcd needs at least one endpoint (http://HOST:PORT)");
  return out;
}

struct EtcdStore::Impl {
  EtcdOptions options;
  std::string target;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::KV::Stub> kv;
  std::unique_ptr<pb::Watch::Stub> watch;
  std::unique_ptr<pb::Lease::Stub> lease;

  void deadline(grpc::ClientContext& ctx) const {
    ctx.set_deadline(std::chrono::system_clock::now() + options.call_timeout);
  }

  Range range(const std::string& key, const std::string& end) {
    pb::RangeRequest req;
    req.set_key(key);
    req.set_range_end(end);
    pb::RangeResponse res;
    grpc::ClientContext ctx;
    deadline(ctx);
    if (auto s = kv->Range(&ctx, req, &res); !s.ok()) fail(s, "range");
    Range r;
    r.revision = res.header().revision();
    for (const auto& kv : res.kvs()) r.kvs.push_back(from_pb(kv));
    return r;
  }

  std::int64_t delete_range(const std::string& key, const std::string& end) {
    pb::DeleteRangeRequest req;
    req.set_key(key);
    req.set_range_end(end);
    pb::DeleteRangeResponse res;
    grpc::ClientContext ctx;
    deadline(ctx);
    if (auto s = kv->DeleteRange(&ctx, req, &res); !s.ok()) fail(s, "delete");
    return res.deleted();
  }
};

// One watch: a Watch stream read by a thread of its own until it ends or is cancelled.
class EtcdWatch final : public Watch {
 public:
  EtcdWatch(pb::Watch::Stub& stub, const std::string& prefix, Revision from, Store::WatchCallback callback)
      : callback_(std::move(callback)) {
    stream_ = stub.Watch(&ctx_);
    pb::WatchRequest req;
    auto* create = req.mutable_create_request();
    create->set_key(prefix);
    create->set_range_end(prefix_end(prefix));
    create->set_start_revision(from);
    const bool sent = stream_->Write(req);
    thread_ = std::thread([this, sent] { run(sent); });
  }
  ~EtcdWatch() override {
    cancelled_.store(true);
    ctx_.TryCancel();
    thread_.join();
  }

 private:
  void run(bool sent) {
    pb::WatchResponse res;
    while (sent && stream_->Read(&res)) {
      if (res.compact_revision() > 0 || res.canceled()) {
        end(res.compact_revision() > 0 ? StoreError::Kind::kCompacted : StoreError::Kind::kRejected,
            res.compact_revision() > 0
                ? "required revision has been compacted (compacted up to " + std::to_string(res.compact_revision()) + ")"
                : "etcd cancelled the watch: " + res.cancel_reason());
        ctx_.TryCancel();
        stream_->Finish();
        return;
      }
      if (res.events_size() == 0) continue;  // created, or progress
      WatchUpdate u;
      for (const auto& e : res.events()) {
        Event ev;
        ev.type = e.type() == pb::Event::DELETE ? Event::Type::kDelete : Event::Type::kPut;
        ev.kv = from_pb(e.kv());
        u.events.push_back(std::move(ev));
      }
      if (!cancelled_.load()) callback_(std::move(u));
    }
    const grpc::Status s = stream_->Finish();
    if (!cancelled_.load()) end(StoreError::Kind::kUnavailable, "the watch stream ended: " + s.error_message());
  }

  void end(StoreError::Kind kind, std::string why) {
    if (cancelled_.load()) return;
    WatchUpdate u;
    u.ended = kind;
    u.why = std::move(why);
    callback_(std::move(u));
  }

  Store::WatchCallback callback_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<pb::WatchRequest, pb::WatchResponse>> stream_;
  std::atomic<bool> cancelled_{false};
  std::thread thread_;
};

EtcdStore::EtcdStore(EtcdOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->target = target_of(options.endpoints);
  impl_->options = std::move(options);
  grpc::ChannelArguments args;
  // Reconnect soon after a member comes back (the default backoff grows to two minutes).
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  impl_->channel = grpc::CreateCustomChannel(impl_->target, grpc::InsecureChannelCredentials(), args);
  impl_->kv = pb::KV::NewStub(impl_->channel);
  impl_->watch = pb::Watch::NewStub(impl_->channel);
  impl_->lease = pb::Lease::NewStub(impl_->channel);
}

EtcdStore::~EtcdStore() = default;

const std::string& EtcdStore::target() const { return impl_->target; }

Range EtcdStore::get(const std::string& key) { return impl_->range(key, ""); }

Range EtcdStore::get_prefix(const std::string& prefix) { return impl_->range(prefix, prefix_end(prefix)); }

Revision EtcdStore::put(const std::string& key, const std::string& value, LeaseId lease) {
  pb::PutRequest req;
  req.set_key(key);
  req.set_value(value);
  req.set_lease(lease);
  pb::PutResponse res;
  grpc::ClientContext ctx;
  impl_->deadline(ctx);
  if (auto s = impl_->kv->Put(&ctx, req, &res); !s.ok()) fail(s, "put");
  return res.header().revision();
}

std::int64_t EtcdStore::erase(const std::string& key) { return impl_->delete_range(key, ""); }

std::int64_t EtcdStore::erase_prefix(const std::string& prefix) { return impl_->delete_range(prefix, prefix_end(prefix)); }

TxnResult EtcdStore::txn(const std::vector<Compare>& when, const std::vector<Op>& then, const std::vector<Op>& otherwise) {
  pb::TxnRequest req;
  for (const auto& c : when) to_pb(c, *req.add_compare());
  for (const auto& op : then) to_pb(op, *req.add_success());
  for (const auto& op : otherwise) to_pb(op, *req.add_failure());
  pb::TxnResponse res;
  grpc::ClientContext ctx;
  impl_->deadline(ctx);
  if (auto s = impl_->kv->Txn(&ctx, req, &res); !s.ok()) fail(s, "txn");
  return {res.succeeded(), res.header().revision()};
}

void EtcdStore::compact(Revision revision) {
  pb::CompactionRequest req;
  req.set_revision(revision);
  pb::CompactionResponse res;
  grpc::ClientContext ctx;
  impl_->deadline(ctx);
  if (auto s = impl_->kv->Compact(&ctx, req, &res); !s.ok()) fail(s, "compact");
}

LeaseId EtcdStore::grant_lease(std::chrono::seconds ttl) {
  pb::LeaseGrantRequest req;
  req.set_ttl(ttl.count());
  pb::LeaseGrantResponse res;
  grpc::ClientContext ctx;
  impl_->deadline(ctx);
  if (auto s = impl_->lease->LeaseGrant(&ctx, req, &res); !s.ok()) fail(s, "lease grant");
  if (!res.error().empty()) throw StoreError(StoreError::Kind::kRejected, "etcd lease grant: " + res.error());
  return res.id();
}

void EtcdStore::revoke_lease(LeaseId id) {
  pb::LeaseRevokeRequest req;
  req.set_id(id);
  pb::LeaseRevokeResponse res;
  grpc::ClientContext ctx;
  impl_->deadline(ctx);
  if (auto s = impl_->lease->LeaseRevoke(&ctx, req, &res); !s.ok()) fail(s, "lease revoke");
}

std::int64_t EtcdStore::keep_alive(LeaseId id) {
  grpc::ClientContext ctx;
  impl_->deadline(ctx);
  auto stream = impl_->lease->LeaseKeepAlive(&ctx);
  pb::LeaseKeepAliveRequest req;
  req.set_id(id);
  pb::LeaseKeepAliveResponse res;
  const bool answered = stream->Write(req) && stream->WritesDone() && stream->Read(&res);
  ctx.TryCancel();
  const grpc::Status s = stream->Finish();
  if (!answered) fail(s.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "no answer") : s, "lease keep-alive");
  return res.ttl() > 0 ? res.ttl() : 0;
}

std::unique_ptr<Watch> EtcdStore::watch_prefix(const std::string& prefix, Revision from, WatchCallback callback) {
  if (from <= 0) from = get_prefix(prefix).revision + 1;  // "from now", made explicit: no gap
  return std::make_unique<EtcdWatch>(*impl_->watch, prefix, from, std::move(callback));
}

}  // namespace cserve::cluster
