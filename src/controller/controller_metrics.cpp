// The controller's gauges, read at each /metrics render: queues, ongoing requests, replica
// health and replica counts per deployment.
#include "controller/controller.hpp"

namespace cserve {

void Controller::collect_metrics(std::vector<CollectedSample>& out) const {
  detail::MutexLock lock(mu_);
  for (const auto& [app_name, app] : apps_) {
    for (const auto& [name, d] : app->deployments) {
      const std::vector<std::pair<std::string, std::string>> dep{{"deployment", name}, {"application", app_name}};
      int running = 0;
      for (const auto& r : d.replicas) {
        if (r->state != ReplicaState::RUNNING) continue;
        ++running;
        auto labels = dep;
        labels.emplace_back("replica", r->id);
        out.push_back({"cserve_replica_processing_queries", "requests in flight on the replica", MetricType::kGauge,
                       labels, static_cast<double>(r->replica->in_flight())});
        if (auto u = r->replica->usage()) {
          out.push_back({"cserve_replica_worker_rss_bytes", "resident memory of the replica's worker process",
                         MetricType::kGauge, labels, u->rss_bytes});
          out.push_back({"cserve_replica_worker_cpu_seconds_total", "CPU time the replica's worker process used",
                         MetricType::kCounter, labels, u->cpu_seconds});
        }
        out.push_back({"cserve_deployment_replica_healthy",
                       "1 while the replica passes its health checks, 0 after a failure", MetricType::kGauge,
                       labels, r->health.failures == 0 ? 1.0 : 0.0});
      }
      out.push_back({"cserve_deployment_queued_queries", "requests waiting in the deployment's queue",
                     MetricType::kGauge, dep, static_cast<double>(d.router->queued())});
      out.push_back({"cserve_deployment_target_replicas", "replicas the deployment should have", MetricType::kGauge,
                     dep, static_cast<double>(d.target_replicas())});
      out.push_back({"cserve_deployment_running_replicas", "replicas RUNNING", MetricType::kGauge, dep,
                     static_cast<double>(running)});
      if (d.autoscaled) {
        out.push_back({"cserve_autoscaling_target_replicas", "the autoscaler's replica count", MetricType::kGauge,
                       dep, static_cast<double>(*d.autoscaled)});
        out.push_back({"cserve_autoscaling_current_replicas", "replicas RUNNING, as the autoscaler sees them",
                       MetricType::kGauge, dep, static_cast<double>(running)});
      }
    }
  }
}

}  // namespace cserve
