// Applications for trying a cluster (docs/cluster.md): each answer names the replicas that made
// it, and `cserve status` on any node says which node runs which replica.
//
//   $ cserve deploy examples/cluster_app/who_answers.yaml --address http://127.0.0.2:8265
//   $ curl 127.0.0.3:8000/who        -> {"replica":"Who#..."}  (on whichever node runs it)
//   $ cserve deploy examples/cluster_app/relay.yaml
//   $ curl 127.0.0.1:8000/relay      -> {"replica":"Relay#...","next":{"replica":"Who#..."}}
#include <cserve/application.hpp>
#include <cserve/cserve.hpp>

namespace {

// Says which replica answered.
class Who {
 public:
  // Typed calls reach a replica in another process (a worker, another node) by name.
  static void methods(cserve::Methods<Who>& m) { m.add("who", &Who::who); }
  cserve::Json operator()(const cserve::Request&) { return who(); }
  cserve::Json who() { return {{"replica", cserve::get_replica_context().replica_id}}; }
};

// Calls Who through a handle and says which replicas answered.
class Relay {
 public:
  explicit Relay(cserve::DeploymentHandle<Who> next) : next_(std::move(next)) {}
  cserve::Task<cserve::Json> operator()(const cserve::Request&) {
    const std::string self = cserve::get_replica_context().replica_id;
    cserve::Json next = co_await next_.method(&Who::who).remote();
    co_return cserve::Json{{"replica", self}, {"next", next}};
  }

 private:
  cserve::DeploymentHandle<Who> next_;
};

}  // namespace

CSERVE_APPLICATION(who_answers, args) {
  (void)args;
  return cserve::deployment<Who>().bind();
}

CSERVE_APPLICATION(relay, args) {
  (void)args;
  return cserve::deployment<Relay>().bind(cserve::deployment<Who>().bind());
}
