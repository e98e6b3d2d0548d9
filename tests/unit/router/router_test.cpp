// Router logic with replicas on a manual strand: no threads, every step explicit.
#include "router/router.hpp"

#include "unit/support/manual_runtime.hpp"

#include <cserve/deployment.hpp>

#include <gtest/gtest.h>

#include <deque>

namespace cserve {
namespace {

using test::QueueStrand;
using test::TaskQueue;

struct NoChildren final : detail::FactoryContext {
  std::shared_ptr<detail::CallSink> sink(const std::string& name) const override {
    throw ConfigError("no deployment " + name);
  }
};

struct Echo {
  Json operator()(const Request& r) { return r.path(); }
};

struct Fixture {
  std::shared_ptr<TaskQueue> queue = std::make_shared<TaskQueue>();
  std::vector<std::shared_ptr<Replica>> replicas;
  // (body, outcome) in completion order; the outcome is "200" for an answer, or the reason code
  // of a rejection ("OVERLOADED", "CANCELLED", ...).
  std::vector<std::pair<std::string, std::string>> answers;

  std::shared_ptr<Replica> add_replica(const std::string& id) {
    auto def = deployment<Echo>().bind().ingress();
    auto r = std::make_shared<LocalReplica>(ReplicaContext{"app", "Echo", id, {}, {}},
                                       std::make_unique<QueueStrand>(queue),
                                       [def] { return def.factory(NoChildren{}); });
    r->start(std::nullopt, [](std::optional<Failure> f) { ASSERT_FALSE(f.has_value()); });
    queue->run_all();
    replicas.push_back(r);
    return r;
  }

  // An HTTP-like call for `path` whose answer is recorded.
  detail::Call call(const std::string& path,
                    std::shared_ptr<detail::CallContext> context = nullptr) {
    detail::Call c;
    c.context = context ? std::move(context) : std::make_shared<detail::CallContext>(path);
    c.run = [this, path](detail::ReplicaCallable& target, UniqueFunction<void()> done) {
      auto req = std::make_shared<Request>("GET", path);
      target.handle(*req, [this, req, done = std::move(done)](detail::HandlerOutcome out) mutable {
        answers.emplace_back(out.response.body, std::to_string(out.response.status));
        done();
      });
    };
    c.reject = [this](Failure f) { answers.emplace_back(f.message, std::string(to_string(f.code))); };
    return c;
  }
};

TEST(Router, QueuesBeyondMaxOngoingAndDrainsInOrder) {
  Fixture f;
  auto router = std::make_shared<Router>("Echo", Router::Config{2, -1}, 1);
  router->update({f.add_replica("a")}, {2, -1});
  for (const char* p : {"/1", "/2", "/3", "/4"}) router->submit(f.call(p));
  EXPECT_EQ(f.replicas[0]->in_flight(), 2);
  EXPECT_EQ(router->queued(), 2u);
  f.queue->run_one();  // /1 completes, /3 is dispatched
  EXPECT_EQ(router->queued(), 1u);
  EXPECT_EQ(f.replicas[0]->in_flight(), 2);
  f.queue->run_all();
  EXPECT_EQ(router->queued(), 0u);
  EXPECT_EQ(f.replicas[0]->in_flight(), 0);
  ASSERT_EQ(f.answers.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(f.answers[i].first, "\"/" + std::to_string(i + 1) + "\"");
}

TEST(Router, FullQueueAnswers503AtOnce) {
  Fixture f;
  auto router = std::make_shared<Router>("Echo", Router::Config{1, 1}, 1);
  router->update({f.add_replica("a")}, {1, 1});
  router->submit(f.call("/1"));  // dispatched
  router->submit(f.call("/2"));  // queued
  router->submit(f.call("/3"));  // rejected
  ASSERT_EQ(f.answers.size(), 1u);
  EXPECT_EQ(f.answers[0].second, "OVERLOADED");
  EXPECT_NE(f.answers[0].first.find("max_queued_requests"), std::string::npos);
  f.queue->run_all();
  ASSERT_EQ(f.answers.size(), 3u);
  EXPECT_EQ(f.answers[1].second, "200");
  EXPECT_EQ(f.answers[2].second, "200");
}

TEST(Router, SpreadsOverReplicasByInFlightCount) {
  Fixture f;
  auto router = std::make_shared<Router>("Echo", Router::Config{1, -1}, 7);
  router->update({f.add_replica("a"), f.add_replica("b"), f.add_replica("c")}, {1, -1});
  for (int i = 0; i < 3; ++i) router->submit(f.call("/"));
  // max_ongoing 1: each replica took exactly one, nothing queued.
  for (auto& r : f.replicas) EXPECT_EQ(r->in_flight(), 1);
  EXPECT_EQ(router->queued(), 0u);
  router->submit(f.call("/"));
  EXPECT_EQ(router->queued(), 1u);
  f.queue->run_all();
  EXPECT_EQ(f.answers.size(), 4u);
}

TEST(Router, PrefersTheLessLoadedOfTwo) {
  Fixture f;
  auto router = std::make_shared<Router>("Echo", Router::Config{100, -1}, 3);
  auto busy = f.add_replica("busy");
  auto idle = f.add_replica("idle");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(busy->try_acquire(100));
  router->update({busy, idle}, {100, -1});
  for (int i = 0; i < 5; ++i) router->submit(f.call("/"));
  EXPECT_EQ(idle->in_flight(), 5);
  EXPECT_EQ(busy->in_flight(), 10);
  f.queue->run_all();
}

TEST(Router, WaitsForReplicasThenDispatches) {
  Fixture f;
  auto router = std::make_shared<Router>("Echo", Router::Config{5, -1}, 1);
  router->submit(f.call("/early"));
  EXPECT_EQ(router->queued(), 1u);
  router->update({f.add_replica("a")}, {5, -1});
  EXPECT_EQ(router->queued(), 0u);
  f.queue->run_all();
  ASSERT_EQ(f.answers.size(), 1u);
  EXPECT_EQ(f.answers[0].first, "\"/early\"");
}

TEST(Router, CloseAnswersQueuedAndLaterRequests) {
  Fixture f;
  auto router = std::make_shared<Router>("Echo", Router::Config{5, -1}, 1);
  router->submit(f.call("/"));
  router->close("deployment deleted");
  router->submit(f.call("/"));
  ASSERT_EQ(f.answers.size(), 2u);
  for (auto& [body, status] : f.answers) {
    EXPECT_EQ(status, "UNAVAILABLE");
    EXPECT_NE(body.find("deployment deleted"), std::string::npos);
  }
  router->reopen();
  router->update({f.add_replica("a")}, {5, -1});
  router->submit(f.call("/"));
  f.queue->run_all();
  EXPECT_EQ(f.answers.back().second, "200");
}

TEST(Router, CancelledQueuedCallLeavesTheQueueAtOnceAndNeverRuns) {
  Fixture f;
  auto router = std::make_shared<Router>("Echo", Router::Config{1, 2}, 1);
  router->update({f.add_replica("a")}, {1, 2});
  auto gone = std::make_shared<detail::CallContext>("gone");
  auto late = std::make_shared<detail::CallContext>("late");
  router->submit(f.call("/running"));
  router->submit(f.call("/gone", gone));
  router->submit(f.call("/late", late));
  EXPECT_EQ(router->queued(), 2u);

  gone->cancel(detail::CancelReason::kDisconnected);
  late->cancel(detail::CancelReason::kTimedOut);
  EXPECT_EQ(router->queued(), 0u);
  ASSERT_EQ(f.answers.size(), 2u);
  EXPECT_EQ(f.answers[0].second, "CANCELLED");
  EXPECT_NE(f.answers[0].first.find("client disconnected"), std::string::npos);
  EXPECT_EQ(f.answers[1].second, "DEADLINE_EXCEEDED");

  // Their places are free again: max_queued_requests counts live calls only.
  router->submit(f.call("/next1"));
  router->submit(f.call("/next2"));
  EXPECT_EQ(router->queued(), 2u);
  f.queue->run_all();
  ASSERT_EQ(f.answers.size(), 5u);
  EXPECT_EQ(f.answers[2].first, "\"/running\"");
  EXPECT_EQ(f.answers[3].first, "\"/next1\"");
  EXPECT_EQ(f.answers[4].first, "\"/next2\"");
}

TEST(Router, CallCancelledOnItsWayToTheReplicaIsNotStarted) {
  Fixture f;
  auto router = std::make_shared<Router>("Echo", Router::Config{5, -1}, 1);
  router->update({f.add_replica("a")}, {5, -1});
  auto context = std::make_shared<detail::CallContext>("x");
  router->submit(f.call("/x", context));  // dispatched: posted to the replica's strand
  context->cancel(detail::CancelReason::kCancelled);
  f.queue->run_all();
  ASSERT_EQ(f.answers.size(), 1u);
  EXPECT_EQ(f.answers[0].second, "CANCELLED");
  EXPECT_EQ(f.replicas[0]->in_flight(), 0);
}

TEST(Router, AlreadyCancelledCallIsAnsweredWithoutQueueing) {
  Fixture f;
  auto router = std::make_shared<Router>("Echo", Router::Config{5, -1}, 1);
  auto context = std::make_shared<detail::CallContext>("x");
  context->cancel(detail::CancelReason::kTimedOut);
  router->submit(f.call("/x", context));
  EXPECT_EQ(router->queued(), 0u);
  ASSERT_EQ(f.answers.size(), 1u);
  EXPECT_EQ(f.answers[0].second, "DEADLINE_EXCEEDED");
}

TEST(CallContext, ChildrenShareTheRequestAndFollowTheParentsCancellation) {
  auto parent = std::make_shared<detail::CallContext>("req-1");
  auto child = detail::CallContext::child_of(parent);
  auto grandchild = detail::CallContext::child_of(child);
  EXPECT_EQ(grandchild->request_id(), "req-1");
  int ran = 0;
  grandchild->on_cancel([&] { ++ran; });
  parent->cancel(detail::CancelReason::kTimedOut);
  parent->cancel(detail::CancelReason::kCancelled);  // the first reason wins
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(grandchild->reason(), detail::CancelReason::kTimedOut);
  EXPECT_EQ(grandchild->failure().code, ErrorCode::kDeadlineExceeded);
  EXPECT_THROW(std::rethrow_exception(grandchild->error()), TimeoutError);
  // A callback registered after the cancellation runs at once.
  child->on_cancel([&] { ++ran; });
  EXPECT_EQ(ran, 2);
}

TEST(CallContext, FinishedChildrenUnregisterFromTheirParent) {
  auto parent = std::make_shared<detail::CallContext>("req-1");
  int ran = 0;
  for (int i = 0; i < 100; ++i) {
    auto child = detail::CallContext::child_of(parent);
    child->on_cancel([&] { ++ran; });
  }  // each child is gone: cancelling the parent reaches none of them
  parent->cancel(detail::CancelReason::kCancelled);
  EXPECT_EQ(ran, 0);
  auto root = detail::CallContext::child_of(nullptr);
  EXPECT_FALSE(root->request_id().empty());
  EXPECT_NE(root->request_id(), detail::CallContext::child_of(nullptr)->request_id());
}

}  // namespace
}  // namespace cserve

namespace cserve {
namespace {

std::shared_ptr<detail::CallContext> for_model(const std::string& id) {
  auto c = std::make_shared<detail::CallContext>("/m");
  c->set_multiplexed_model_id(id);
  return c;
}

TEST(Router, AModelsCallsGoToTheReplicaHoldingItWhileItHasRoom) {
  Fixture f;
  auto router = std::make_shared<Router>("Echo", Router::Config{3, -1}, 7);
  auto a = f.add_replica("a");
  auto b = f.add_replica("b");
  router->update({a, b}, {3, -1});
  a->set_models({});  // both serve multiplexed models (their Multiplexed reported)
  b->set_models({"m1"});
  // b holds m1: its calls go there even though b is the busier replica.
  for (int i = 0; i < 3; ++i) router->submit(f.call("/m", for_model("m1")));
  EXPECT_EQ(b->in_flight(), 3);
  EXPECT_EQ(a->in_flight(), 0);
  // b is full: the next one goes to a, which from then on counts as holding m1 too.
  router->submit(f.call("/m", for_model("m1")));
  EXPECT_EQ(a->in_flight(), 1);
  EXPECT_TRUE(a->holds_model("m1"));
  // A model nobody holds goes to the replica holding the fewest models.
  b->set_models({"m1", "m2"});
  f.queue->run_all();
  router->submit(f.call("/m", for_model("m3")));
  EXPECT_TRUE(a->holds_model("m3"));
  EXPECT_FALSE(b->holds_model("m3"));
  // A replica's report replaces the router's view (an evicted model is no longer preferred).
  a->set_models({"m3"});
  EXPECT_FALSE(a->holds_model("m1"));
  f.queue->run_all();
  EXPECT_EQ(f.answers.size(), 5u);
}

TEST(Router, AModelIdSentToAnOrdinaryDeploymentIsNotRemembered) {
  Fixture f;
  auto router = std::make_shared<Router>("Echo", Router::Config{4, -1}, 5);
  auto a = f.add_replica("a");
  auto b = f.add_replica("b");
  router->update({a, b}, {4, -1});
  for (int i = 0; i < 50; ++i) router->submit(f.call("/m", for_model("id-" + std::to_string(i % 4))));
  EXPECT_FALSE(a->multiplexed());
  EXPECT_EQ(a->model_count() + b->model_count(), 0u);
  f.queue->run_all();
  EXPECT_EQ(f.answers.size(), 50u);
}

}  // namespace
}  // namespace cserve

namespace cserve {
namespace {

// Cluster mode: stand-ins for other nodes' replicas (update_remote) take calls only when every
// replica of this node is full, and calls from other nodes (local_sink) never leave this node.
TEST(Router, PrefersThisNodesReplicasAndSendsToOtherNodesOnlyWhenTheyAreFull) {
  Fixture f;
  auto local = f.add_replica("local");
  auto remote = f.add_replica("remote");  // a stand-in, as the router sees it
  auto router = std::make_shared<Router>("Echo", Router::Config{1, -1}, 7);
  router->update({local}, {1, -1});
  router->update_remote({remote});
  router->submit(f.call("/1"));
  EXPECT_EQ(local->in_flight(), 1);
  EXPECT_EQ(remote->in_flight(), 0) << "a free local replica takes the call";
  router->submit(f.call("/2"));
  EXPECT_EQ(remote->in_flight(), 1) << "the local one is full: the other node's takes it";
  router->submit(f.call("/3"));
  EXPECT_EQ(router->queued(), 1u) << "both full: it waits";
  f.queue->run_all();
  EXPECT_EQ(f.answers.size(), 3u);
  router->update_remote({});
  EXPECT_TRUE(router->serving());
  router->update({}, {1, -1});
  EXPECT_FALSE(router->serving()) << "no replica here or elsewhere";
}

TEST(Router, ItsLocalSinkRoutesToThisNodesReplicasOnlyAndFollowsUpdatesAndClose) {
  Fixture f;
  auto local = f.add_replica("local");
  auto remote = f.add_replica("remote");
  auto router = std::make_shared<Router>("Echo", Router::Config{1, -1}, 7);
  router->update({local}, {1, -1});
  router->update_remote({remote});
  auto from_peers = router->local_sink();
  from_peers->submit(f.call("/a"));
  from_peers->submit(f.call("/b"));
  EXPECT_EQ(local->in_flight(), 1);
  EXPECT_EQ(remote->in_flight(), 0) << "a call from another node is never forwarded again";
  f.queue->run_all();
  EXPECT_EQ(f.answers.size(), 2u);
  auto second = f.add_replica("second");
  router->update({local, second}, {1, -1});  // the companion follows
  from_peers->submit(f.call("/c"));
  from_peers->submit(f.call("/d"));
  EXPECT_EQ(local->in_flight() + second->in_flight(), 2);
  f.queue->run_all();
  router->close("deployment 'Echo' was deleted");
  from_peers->submit(f.call("/e"));
  ASSERT_EQ(f.answers.size(), 5u);
  EXPECT_EQ(f.answers.back().second, "UNAVAILABLE");
  EXPECT_EQ(f.answers.back().first, "deployment 'Echo' was deleted");
}

}  // namespace
}  // namespace cserve
