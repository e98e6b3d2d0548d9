// Model multiplexing: a replica's LRU of models, the router's preference for replicas that hold
// the requested model, the id over HTTP and handles, and what a bad id or a failing load costs.
#include <cserve/cserve.hpp>

#include "support/http_client.hpp"
#include "support/local_serve.hpp"
#include "support/oip_client.hpp"
#include "support/prometheus.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace cserve {
namespace {

using namespace std::chrono_literals;
using test::HttpClient;
using test::start_local;

// Loads done by every replica of the test's deployments: (replica id, model id) -> count.
std::mutex g_mu;
std::map<std::pair<std::string, std::string>, int> g_loads;

int loads_of(const std::string& model) {
  std::lock_guard lock(g_mu);
  int n = 0;
  for (const auto& [key, count] : g_loads) n += key.second == model ? count : 0;
  return n;
}

void reset_loads() {
  std::lock_guard lock(g_mu);
  g_loads.clear();
}

struct Scaler {
  int factor;
};

// Models "m<k>" multiply by k. "boom" fails to load; anything else is unknown (404). Loads take
// a while (asynchronously: other requests reach the replica meanwhile).
Task<std::shared_ptr<Scaler>> load_scaler(std::string id) {
  co_await sleep_for(30ms);
  if (id == "boom") throw std::runtime_error("the model file is corrupt");
  if (id.size() < 2 || id[0] != 'm') throw HttpError(404, "no model '" + id + "'");
  {
    std::lock_guard lock(g_mu);
    ++g_loads[{get_replica_context().replica_id, id}];
  }
  co_return std::make_shared<Scaler>(Scaler{std::stoi(id.substr(1))});
}

class Multi {
 public:
  explicit Multi(int max_models)
      : models_({.max_num_models_per_replica = max_models}, [](const std::string& id) { return load_scaler(id); }) {}

  // HTTP: the body is a number; the answer names the model and the replica that answered.
  Task<Json> operator()(const Request& req) {
    std::shared_ptr<Scaler> model = co_await models_.get(get_multiplexed_model_id());
    co_return answer(model->factor * req.json().get<int>());
  }

  // Through handles.
  Task<int> scale(int x) {
    std::shared_ptr<Scaler> model = co_await models_.get(get_multiplexed_model_id());
    co_return model->factor * x;
  }

  std::vector<std::string> loaded() { return models_.loaded(); }

  // Over gRPC (an application method): the message is a number's digits; the answer the scaled
  // number, then the model id.
  static void methods(Methods<Multi>& m) { m.add("/test.Models/Scale", &Multi::grpc_scale); }
  Task<std::string> grpc_scale(std::string message) {
    std::shared_ptr<Scaler> model = co_await models_.get(get_multiplexed_model_id());
    co_return std::to_string(model->factor * std::stoi(message)) + " " + get_multiplexed_model_id();
  }

 private:
  Json answer(int value) const {
    return {{"value", value}, {"model", get_multiplexed_model_id()}, {"replica", get_replica_context().replica_id}};
  }

  Multiplexed<Scaler> models_;
};

ServeOptions with_admin() {
  ServeOptions o;
  o.admin.enabled = true;
  o.admin.port = 0;
  return o;
}

test::PromText scrape(const Serve& serve) {
  return test::parse_prometheus(HttpClient(serve.admin_port()).get("/metrics").body);
}

test::HttpResult post_for(HttpClient& c, const std::string& model, int x) {
  return c.request("POST", "/multi", std::to_string(x), {{"serve_multiplexed_model_id", model}});
}

TEST(Multiplex, ACycleOverThreeModelsLoadsEachAtMostOncePerReplica) {
  reset_loads();
  Serve serve = start_local(with_admin());
  serve.run(deployment<Multi>().num_replicas(2).max_ongoing_requests(8).bind(3), {.route_prefix = "/multi"});
  std::vector<std::thread> clients;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      HttpClient c(serve.http_port());
      for (int i = 0; i < 30; ++i) {
        const int k = 1 + (i + t) % 3;
        auto r = post_for(c, "m" + std::to_string(k), i);
        if (r.status != 200 || Json::parse(r.body).at("value").get<int>() != k * i) ++wrong;
      }
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(wrong.load(), 0);
  {
    std::lock_guard lock(g_mu);
    for (const auto& [key, count] : g_loads) EXPECT_EQ(count, 1) << key.second << " on " << key.first;
  }
  auto m = scrape(serve);
  const double loads = m.sum("cserve_multiplexed_model_loads_total", {{"deployment", "Multi"}});
  EXPECT_GE(loads, 3);
  EXPECT_LE(loads, 6) << "three models over two replicas: at most one load each per replica";
  EXPECT_EQ(loads, 3) << "with a free slot on the replica holding it, a model is never loaded twice";
  EXPECT_EQ(m.sum("cserve_multiplexed_model_unloads_total", {{"deployment", "Multi"}}), 0);
  EXPECT_EQ(m.sum("cserve_multiplexed_get_model_requests_total", {{"deployment", "Multi"}}), 120);
  EXPECT_GE(m.sum("cserve_multiplexed_model_hits_total", {{"deployment", "Multi"}}), 120 - 6 * 8)
      << "requests that found their model loaded";
}

TEST(Multiplex, TheLeastRecentlyUsedModelIsUnloadedToMakeRoom) {
  reset_loads();
  Serve serve = start_local(with_admin());
  auto h = serve.run(deployment<Multi>().bind(2), {.route_prefix = "/multi"});
  HttpClient c(serve.http_port());
  for (const char* id : {"m1", "m2", "m1", "m3"}) ASSERT_EQ(post_for(c, id, 1).status, 200) << id;
  // m2 was the least recently used when m3 came: it went; m1 stayed.
  EXPECT_EQ(h.method(&Multi::loaded).remote().result(), (std::vector<std::string>{"m3", "m1"}));
  EXPECT_EQ(post_for(c, "m1", 1).status, 200);
  EXPECT_EQ(loads_of("m1"), 1);
  EXPECT_EQ(post_for(c, "m2", 1).status, 200);
  EXPECT_EQ(loads_of("m2"), 2) << "an unloaded model loads again";
  auto m = scrape(serve);
  EXPECT_EQ(m.sum("cserve_multiplexed_model_unloads_total", {{"deployment", "Multi"}}), 2);
  EXPECT_EQ(m.sum("cserve_multiplexed_models", {{"deployment", "Multi"}}), 2);
}

TEST(Multiplex, ConcurrentFirstRequestsForOneModelLoadItOnce) {
  reset_loads();
  Serve serve = start_local(with_admin());
  auto h = serve.run(deployment<Multi>().num_replicas(2).max_ongoing_requests(32).bind(3));
  auto m7 = h.options({.multiplexed_model_id = "m7"});
  std::vector<DeploymentResponse<int>> calls;
  for (int i = 0; i < 16; ++i) calls.push_back(m7.method(&Multi::scale).remote(i));
  for (int i = 0; i < 16; ++i) EXPECT_EQ(calls[i].result(30s), 7 * i);
  EXPECT_EQ(loads_of("m7"), 1) << "16 concurrent first requests, one load";
  // Another model goes to the other replica (it holds none), and m7 stays where it is.
  EXPECT_EQ(h.options({.multiplexed_model_id = "m5"}).method(&Multi::scale).remote(2).result(30s), 10);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(m7.method(&Multi::scale).remote(1).result(30s), 7);
  EXPECT_EQ(loads_of("m7"), 1);
  std::lock_guard lock(g_mu);
  std::set<std::string> replicas;
  for (const auto& [key, count] : g_loads) replicas.insert(key.first);
  EXPECT_EQ(replicas.size(), 2u) << "the second model was loaded by the replica that held none";
}

TEST(Multiplex, AnUnknownIdIs404AFailingLoadIs500AndTheReplicaStaysHealthy) {
  reset_loads();
  Serve serve = start_local(with_admin());
  serve.run(deployment<Multi>().bind(3), {.name = "multi", .route_prefix = "/multi"});
  HttpClient c(serve.http_port());
  auto unknown = post_for(c, "nope", 1);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("no model 'nope'"), std::string::npos) << unknown.body;
  auto broken = post_for(c, "boom", 1);
  EXPECT_EQ(broken.status, 500) << broken.body;
  auto none = c.request("POST", "/multi", "1");
  EXPECT_EQ(none.status, 400);
  EXPECT_NE(none.body.find("serve_multiplexed_model_id"), std::string::npos) << none.body;
  // A failed load is not cached: the next request tries again (and fails again).
  EXPECT_EQ(post_for(c, "boom", 1).status, 500);
  auto ok = post_for(c, "m3", 2);
  ASSERT_EQ(ok.status, 200);
  EXPECT_EQ(Json::parse(ok.body).at("value"), 6);
  auto m = scrape(serve);
  EXPECT_EQ(m.sum("cserve_multiplexed_model_load_failures_total", {{"deployment", "Multi"}}), 3);
  EXPECT_EQ(serve.status().applications.at("multi").status, ApplicationStatus::RUNNING);
}

TEST(Multiplex, GrpcCallsNameTheirModelInMetadata) {
  reset_loads();
  ServeOptions o = with_admin();
  o.grpc.enabled = true;
  o.grpc.port = 0;
  Serve serve = start_local(o);
  serve.run(deployment<Multi>().bind(3), {.name = "multi", .route_prefix = "/multi"});
  auto call = [](const std::string& model, const std::string& number) {
    Json op{{"op", "method"}, {"method", "/test.Models/Scale"}, {"message", test::hex_of(number)}};
    if (!model.empty()) op["metadata"] = {{"multiplexed_model_id", model}};
    return op;
  };
  Json r = test::run_oip_client(serve.grpc_port(), Json::array({call("m4", "5"), call("m4", "6"), call("", "1")}));
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0]["message"], test::hex_of("20 m4")) << r[0];
  EXPECT_EQ(r[1]["message"], test::hex_of("24 m4")) << r[1];
  EXPECT_EQ(r[2]["code"], "INVALID_ARGUMENT") << r[2];
  EXPECT_EQ(loads_of("m4"), 1);
}

}  // namespace
}  // namespace cserve
