#include "grpc/grpc_calls.hpp"

#include "api/request_id.hpp"

#include <chrono>

namespace cserve::grpc_ingress {

IngressRoutes::IngressRoutes() : table_(std::make_shared<const RouteTable>(std::vector<RouteTable::Entry>{})) {}

void IngressRoutes::set(std::shared_ptr<const RouteTable> table) {
  detail::MutexLock lock(mu_);
  table_ = std::move(table);
}

std::shared_ptr<const RouteTable> IngressRoutes::get() const {
  detail::MutexLock lock(mu_);
  return table_;
}

std::shared_ptr<detail::CallContext> context_for(grpc::CallbackServerContext& ctx) {
  std::string id;
  const auto& metadata = ctx.client_metadata();
  auto it = metadata.find("x-request-id");
  if (it != metadata.end() && is_acceptable_request_id(std::string_view(it->second.data(), it->second.size()))) {
    id.assign(it->second.data(), it->second.size());
  } else {
    id = make_request_id();
    ctx.AddInitialMetadata("x-request-id", id);
  }
  auto deadline = detail::CallContext::TimePoint::max();
  const auto client_deadline = ctx.deadline();
  if (client_deadline < std::chrono::system_clock::time_point::max() - std::chrono::hours(24 * 365)) {
    deadline = std::chrono::steady_clock::now() +
               std::chrono::duration_cast<std::chrono::steady_clock::duration>(client_deadline -
                                                                               std::chrono::system_clock::now());
  }
  auto context = std::make_shared<detail::CallContext>(std::move(id), deadline);
  if (auto m = metadata.find("multiplexed_model_id"); m != metadata.end()) {
    context->set_multiplexed_model_id(std::string(m->second.data(), m->second.size()));
  }
  return context;
}

void cancel_for_grpc(const grpc::CallbackServerContext& ctx, detail::CallContext& context) {
  const bool timed_out = std::chrono::system_clock::now() >= ctx.deadline();
  context.cancel(timed_out ? detail::CancelReason::kTimedOut : detail::CancelReason::kDisconnected);
}

std::string known_models(const RouteTable& routes) {
  std::string out;
  for (const auto& m : routes.models()) out += (out.empty() ? "" : ", ") + m.name;
  return out.empty() ? "none" : out;
}

std::string known_apps(const RouteTable& routes) {
  std::string out;
  for (const auto& e : routes.entries()) out += (out.empty() ? "" : ", ") + e.app;
  return out.empty() ? "none" : out;
}

}  // namespace cserve::grpc_ingress
