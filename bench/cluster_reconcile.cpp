// The cluster leader's work at scale (Google Benchmark): 1,000 replicas of 20 deployments on 50
// nodes.
//  * plan/fresh — plan_cluster from nothing (a first deploy).
//  * plan/stable — the same plan again from the plan in force (what every leader pass does when
//    nothing changed, and what a new leader does first).
//  * leader_reconcile — on a MemoryStore with 50 registered nodes (the leader's own agent and 49
//    simulated nodes: records under leases, as real nodes write them), from a new config at
//    `config/serve` to every node's assignment written: the leader's mirrors, its plan, the 50
//    node configs and the one fenced transaction. Two configs (1,000 and 950 replicas) alternate,
//    so every pass changes every node's share.
//
//   ./build/release/bench/cluster_reconcile
#include "cluster/memory_store.hpp"
#include "cluster/node_agent.hpp"
#include "controller/cluster_plan.hpp"
#include "runtime/cluster_control.hpp"

#include <benchmark/benchmark.h>

namespace {

using namespace cserve;
constexpr int kNodes = 50;
constexpr int kDeployments = 20;

std::vector<Demand> demands(int replicas) {
  std::vector<Demand> out;
  for (int d = 0; d < kDeployments; ++d) {
    out.push_back({{"app-" + std::to_string(d), "Model"}, replicas / kDeployments, {.cpus = 1}});
  }
  return out;
}

std::vector<NodeResources> nodes() {
  std::vector<NodeResources> out;
  for (int n = 0; n < kNodes; ++n) {
    NodeResources r;
    r.node_id = "node-" + std::to_string(n);
    r.cpus = 32;
    out.push_back(r);
  }
  return out;
}

void plan_fresh(benchmark::State& state) {
  const auto d = demands(1000);
  const auto n = nodes();
  for (auto _ : state) benchmark::DoNotOptimize(plan_cluster(d, n, {}));
}
BENCHMARK(plan_fresh)->Name("plan/fresh")->Unit(benchmark::kMillisecond);

void plan_stable(benchmark::State& state) {
  const auto d = demands(1000);
  const auto n = nodes();
  const Shares in_force = plan_cluster(d, n, {}).shares;
  for (auto _ : state) benchmark::DoNotOptimize(plan_cluster(d, n, in_force));
}
BENCHMARK(plan_stable)->Name("plan/stable")->Unit(benchmark::kMillisecond);

Json config(int replicas) {
  Json apps = Json::array();
  for (int d = 0; d < kDeployments; ++d) {
    apps.push_back({{"name", "app-" + std::to_string(d)},
                    {"route_prefix", "/app-" + std::to_string(d)},
                    {"import_path", "libmodels.so:app"},
                    {"deployments", Json::array({{{"name", "Model"}, {"num_replicas", replicas / kDeployments}}})}});
  }
  return {{"applications", apps}, {"replicas", replicas}};
}

void leader_reconcile(benchmark::State& state) {
  SteadyClock clock;
  cluster::MemoryStore store(clock);
  cluster::NodeAgentOptions leader;
  leader.record.id = "node-0";
  leader.record.resources = {{"CPU", 32}, {"GPU", 0}};
  leader.ttl = std::chrono::seconds(60);
  cluster::NodeAgent agent(store, leader);
  agent.wait_registered(std::chrono::seconds(10));
  const cluster::LeaseId lease = store.grant_lease(std::chrono::seconds(3600));
  for (int n = 1; n < kNodes; ++n) {
    cluster::NodeRecord r;
    r.id = "node-" + std::to_string(n);
    r.resources = {{"CPU", 32}, {"GPU", 0}};
    store.put(cluster::node_key(r.id), cluster::encode(r), lease);
  }
  while (agent.nodes().size() < kNodes || !agent.term()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  detail::ClusterControl control(
      store, agent, std::chrono::seconds(60),
      {[](const Json& c) { return demands(c.at("replicas").get<int>()); }, [](const Json&) {}});
  int i = 0;
  for (auto _ : state) {
    control.submit(config(i++ % 2 == 0 ? 1000 : 950), std::chrono::seconds(30));  // returns once written
  }
  const auto assigned = store.get_prefix(detail::kAssignPrefix).kvs.size();
  if (assigned != kNodes) state.SkipWithError("not every node got an assignment");
}
BENCHMARK(leader_reconcile)->Name("leader_reconcile")->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(40);

}  // namespace

BENCHMARK_MAIN();
