#include <cserve/cserve.hpp>

#include <gtest/gtest.h>

namespace cserve {
namespace {

struct Counter {
  Json operator()(const Request&) { return {{"count", ++n}}; }
  int n = 0;
};

namespace models {
template <class T>
struct Box {
  explicit Box(int v) : v(v) {}
  std::string operator()() { return std::to_string(v); }
  int v;
};
}  // namespace models

Json hello(const Request& r) { return {{"path", r.path()}}; }
std::string ping() { return "pong"; }

struct WithRoutes {
  static void routes(Routes<WithRoutes>& r) {
    r.get("/", &WithRoutes::root).post("/items/{id}", &WithRoutes::item);
  }
  Json root() { return "root"; }
  Json item(const Request& req) { return {{"id", req.path_param("id")}, {"body", req.json()}}; }
};

struct Configurable {
  Json operator()() { return config; }
  void reconfigure(const Json& c) { config = c; }
  Json config;
};

struct NoChildren final : detail::FactoryContext {
  std::shared_ptr<detail::CallSink> sink(const std::string& name) const override {
    throw ConfigError("no deployment " + name);
  }
};
const NoChildren kNoChildren;

// Runs an HTTP handler that completes synchronously; rethrows what it threw.
Response call(detail::ReplicaCallable& target, Request& req) {
  std::optional<detail::HandlerOutcome> outcome;
  target.handle(req, [&](detail::HandlerOutcome o) { outcome = std::move(o); });
  if (!outcome) throw std::logic_error("handler did not complete synchronously");
  if (outcome->error) std::rethrow_exception(outcome->error);
  return std::move(outcome->response);
}

TEST(Deployment, DefaultNamesComeFromTheClassOrFunction) {
  EXPECT_EQ(deployment<Counter>().options().name, "Counter");
  EXPECT_EQ(deployment<models::Box<int>>().options().name, "Box<int>");
  EXPECT_EQ(deployment<&hello>().options().name, "hello");
  EXPECT_EQ(deployment<&ping>().options().name, "ping");
  EXPECT_EQ(deployment<Counter>().name("Other").options().name, "Other");
}

TEST(Deployment, OptionsKeepRayDefaults) {
  auto o = deployment<Counter>().options();
  EXPECT_EQ(o.num_replicas, 1);
  EXPECT_EQ(o.max_ongoing_requests, 5);
  EXPECT_EQ(o.max_queued_requests, -1);
  EXPECT_EQ(o.resources.cpus, 1.0);
  EXPECT_EQ(o.resources.gpus, 0.0);
  EXPECT_EQ(o.graceful_shutdown_wait_loop_s, 2.0);
  EXPECT_EQ(o.graceful_shutdown_timeout_s, 20.0);
}

TEST(Deployment, BindBuildsReplicasFromCopiedArguments) {
  auto app = deployment<models::Box<int>>().bind(42);
  auto a = app.ingress().factory(kNoChildren);
  auto b = app.ingress().factory(kNoChildren);
  Request req("GET", "/");
  EXPECT_EQ(call(*a, req).body, "42");
  EXPECT_EQ(call(*b, req).body, "42");
}

TEST(Deployment, ReplicasHoldState) {
  auto app = deployment<Counter>().bind();
  auto r = app.ingress().factory(kNoChildren);
  Request req("GET", "/");
  EXPECT_EQ(call(*r, req).body, R"({"count":1})");
  EXPECT_EQ(call(*r, req).body, R"({"count":2})");
}

TEST(Deployment, FunctionDeploymentsServe) {
  Request req("GET", "/x");
  EXPECT_EQ(call(*deployment<&hello>().bind().ingress().factory(kNoChildren), req).body, R"({"path":"/x"})");
  auto r = call(*deployment<&ping>().bind().ingress().factory(kNoChildren), req);
  EXPECT_EQ(r.body, "pong");
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
}

TEST(Deployment, RoutesDispatchAndMiss) {
  auto r = deployment<WithRoutes>().bind().ingress().factory(kNoChildren);
  Request root("GET", "/");
  EXPECT_EQ(call(*r, root).body, R"("root")");
  Request item("POST", "/items/7", "", {}, R"({"a":1})");
  EXPECT_EQ(Json::parse(call(*r, item).body), (Json{{"id", "7"}, {"body", {{"a", 1}}}}));
  Request missing("GET", "/nope");
  try {
    call(*r, missing);
    FAIL();
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 404);
  }
  Request wrong("DELETE", "/items/7");
  try {
    call(*r, wrong);
    FAIL();
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 405);
    ASSERT_EQ(e.headers().size(), 1u);
    EXPECT_EQ(e.headers()[0].second, "POST");
  }
}

TEST(Deployment, VersionFollowsClassAndArguments) {
  auto v = [](const Application& a) { return a.ingress().code_version; };
  EXPECT_EQ(v(deployment<models::Box<int>>().bind(1)), v(deployment<models::Box<int>>().bind(1)));
  EXPECT_NE(v(deployment<models::Box<int>>().bind(1)), v(deployment<models::Box<int>>().bind(2)));
  EXPECT_NE(v(deployment<Counter>().bind()), v(deployment<&hello>().bind()));
  // num_replicas is not part of the version: scaling restarts nothing.
  EXPECT_EQ(v(deployment<Counter>().num_replicas(1).bind()), v(deployment<Counter>().num_replicas(4).bind()));
  EXPECT_EQ(v(deployment<Counter>().version("v7").bind()), "v7");
}

TEST(Deployment, ReconfigureHookIsDetected) {
  EXPECT_TRUE(deployment<Configurable>().bind().ingress().has_reconfigure);
  EXPECT_FALSE(deployment<Counter>().bind().ingress().has_reconfigure);
  auto r = deployment<Configurable>().bind().ingress().factory(kNoChildren);
  r->reconfigure({{"threshold", 3}});
  Request req("GET", "/");
  EXPECT_EQ(call(*r, req).body, R"({"threshold":3})");
}

}  // namespace
}  // namespace cserve
