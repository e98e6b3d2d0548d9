// cserve/deployment.hpp — declaring deployments and binding them into applications.
//
//   auto app = cserve::deployment<Counter>().num_replicas(2).bind();
//   auto fn  = cserve::deployment<&hello>().bind();        // a free function; name "hello"
//   auto graph = cserve::deployment<Ensemble>().bind(cserve::deployment<ModelA>().bind(),
//                                                    cserve::deployment<ModelB>().bind());
//
// Deployment<T> is a value that records options; bind(args...) copies the constructor arguments
// and yields a BoundDeployment<T> (an Application) that Serve::run deploys. Every replica is
// constructed from its own copy of the arguments. A bound deployment passed to bind() becomes
// part of the application and arrives in the constructor as a DeploymentHandle to it (model
// composition: any depth, fan-out, fan-in; a deployment bound twice is deployed once).
// Thread-safety: plain values; an Application may be shared and run from any thread.
#pragma once

#include <cserve/autoscaling.hpp>
#include <cserve/detail/callable.hpp>
#include <cserve/detail/type_name.hpp>
#include <cserve/error.hpp>
#include <cserve/handle.hpp>
#include <cserve/json.hpp>
#include <cserve/resources.hpp>

#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace cserve {

// Options of one deployment. Defaults follow Ray Serve's.
// Where a deployment's replicas run: threads of the serving process (calls are function calls),
// or a `cserve worker` process each (a crash, abort or runaway allocation in the replica's code
// costs only that replica's calls; values cross as bytes, see cserve/codec.hpp). Process
// isolation needs the application in a library (CSERVE_APPLICATION) that the worker can load.
enum class Isolation { kThread, kProcess };

struct DeploymentOptions {
  std::string name;                          // default: the class (or function) name
  int num_replicas = 1;                      // >= 0; ignored when autoscaling_config is set
  std::optional<AutoscalingConfig> autoscaling_config;  // set: the replica count follows load
  int max_ongoing_requests = 5;              // per replica, >= 1
  int max_queued_requests = -1;              // per caller's router; -1 = unbounded; 0 = no queue
  std::optional<Json> user_config;           // delivered to reconfigure(const Json&)
  std::string version;                       // empty: derived from the class and bind arguments
  std::optional<std::string> route_prefix;   // used when the app's RunOptions has none
  Resources resources;                       // per replica; default 1 CPU
  // At most this many replicas of the deployment on one node (>= 1; unset: no limit). With one
  // node (embedded mode) it also caps num_replicas; in a cluster replicas beyond it wait for nodes.
  std::optional<int> max_replicas_per_node;
  double graceful_shutdown_wait_loop_s = 2;  // how often a stopping replica checks for work left
  double graceful_shutdown_timeout_s = 20;   // then it stops even with requests in flight
  double health_check_period_s = 10;         // how often check_health() runs on each replica
  double health_check_timeout_s = 30;        // a check unanswered this long counts as failed
  std::optional<Isolation> isolation;        // unset: the instance's default (ServeOptions)
  // For a class that serves a model (metadata() and infer(), cserve/inference.hpp): the model's
  // name over the Open Inference Protocol; default: the deployment's name.
  std::optional<std::string> model_name;
};

namespace detail {

// Where an application came from when it was built from a library: what a worker process
// loads to build the same deployment.
struct AppOrigin {
  std::string library;      // path of the shared library
  std::string application;  // the CSERVE_APPLICATION name in it
  Json args;                // the builder's arguments
};

// A deployment with its options and a factory for its replicas, type-erased.
struct DeploymentDef {
  DeploymentOptions options;
  std::string type_name;     // fully qualified, for messages
  std::string code_version;  // changes when a redeploy must restart replicas
  bool has_reconfigure = false;
  bool serves_model = false;  // the class has metadata() and infer() (cserve/inference.hpp)
  std::vector<std::string> stream_methods;  // methods by name that return a Stream (gRPC streams them)
  ReplicaFactory factory;
  std::shared_ptr<const AppOrigin> origin;  // set when the application was loaded from a library
};

// A stable fingerprint of bind arguments: JSON-convertible arguments by value, anything else as
// "opaque", which makes every bind a new version (replicas restart on redeploy).
std::string fingerprint(std::string_view type_name, const std::vector<std::string>& args);
std::string opaque_argument();

}  // namespace detail

// The result of bind(): an application graph ready for Serve::run. The ingress (the deployment
// HTTP reaches) comes first, then every deployment bound into it.
class Application {
 public:
  explicit Application(std::vector<detail::DeploymentDef> deployments)
      : deployments_(std::make_shared<const std::vector<detail::DeploymentDef>>(std::move(deployments))) {}
  const detail::DeploymentDef& ingress() const { return deployments_->front(); }
  const std::vector<detail::DeploymentDef>& deployments() const { return *deployments_; }

 private:
  std::shared_ptr<const std::vector<detail::DeploymentDef>> deployments_;
};

// An Application whose ingress is a T: Serve::run returns a DeploymentHandle<T> for it.
template <class T>
class BoundDeployment : public Application {
 public:
  using Application::Application;
};

namespace detail {

template <class A>
struct IsBound : std::false_type {};
template <class U>
struct IsBound<BoundDeployment<U>> : std::true_type {};

// A bound child as stored in a parent's factory: its name, made a handle at construction.
template <class U>
struct ChildRef {
  std::string name;
};

template <class A>
struct Stored {
  using type = A;
};
template <class U>
struct Stored<BoundDeployment<U>> {
  using type = ChildRef<U>;
};
template <class A>
using stored_t = typename Stored<std::decay_t<A>>::type;

// What the constructor receives for a stored argument.
template <class A>
struct Materialized {
  using type = A;
};
template <class U>
struct Materialized<ChildRef<U>> {
  using type = DeploymentHandle<U>;
};
template <class A>
using materialized_t = typename Materialized<A>::type;

template <class A>
stored_t<A> store_argument(A&& a) {
  if constexpr (IsBound<std::decay_t<A>>::value) {
    return {a.ingress().options.name};
  } else {
    return std::forward<A>(a);
  }
}

template <class A>
decltype(auto) materialize(const A& a, const FactoryContext& ctx) {
  if constexpr (!std::is_same_v<materialized_t<A>, A>) {
    return materialized_t<A>(ctx.sink(a.name), a.name);
  } else {
    return (a);
  }
}

template <class A>
std::string argument_fingerprint(const A& a) {
  if constexpr (IsBound<A>::value) {
    // A child is identified by name: updating it rolls only the child, not its parents.
    return "deployment:" + a.ingress().options.name;
  } else if constexpr (std::is_constructible_v<Json, const A&>) {
    return Json(a).dump();
  } else {
    return opaque_argument();
  }
}

// Adds the deployments of a bound child to `out`, once each. Throws ConfigError when two
// different deployments share a name.
void add_child_deployments(std::vector<DeploymentDef>& out, const Application& child);

template <class A>
void collect_children(std::vector<DeploymentDef>& out, const A& a) {
  if constexpr (IsBound<A>::value) add_child_deployments(out, a);
}

}  // namespace detail

template <class T>
class Deployment {
  static_assert(detail::Servable<T>, "a deployment is a class (or a function: deployment<&f>())");

 public:
  explicit Deployment(std::string default_name) { options_.name = std::move(default_name); }

  Deployment& name(std::string v) { options_.name = std::move(v); return *this; }
  Deployment& num_replicas(int v) { options_.num_replicas = v; options_.autoscaling_config.reset(); return *this; }
  // Ray's num_replicas="auto": autoscaling with auto_num_replicas()'s config.
  Deployment& num_replicas_auto() { options_.autoscaling_config = auto_num_replicas(); return *this; }
  Deployment& max_replicas_per_node(int v) { options_.max_replicas_per_node = v; return *this; }
  Deployment& autoscaling(AutoscalingConfig v) { options_.autoscaling_config = v; return *this; }
  Deployment& max_ongoing_requests(int v) { options_.max_ongoing_requests = v; return *this; }
  Deployment& max_queued_requests(int v) { options_.max_queued_requests = v; return *this; }
  Deployment& user_config(Json v) { options_.user_config = std::move(v); return *this; }
  Deployment& version(std::string v) { options_.version = std::move(v); return *this; }
  Deployment& route_prefix(std::string v) { options_.route_prefix = std::move(v); return *this; }
  Deployment& resources(Resources v) { options_.resources = std::move(v); return *this; }
  Deployment& graceful_shutdown_wait_loop_s(double v) { options_.graceful_shutdown_wait_loop_s = v; return *this; }
  Deployment& graceful_shutdown_timeout_s(double v) { options_.graceful_shutdown_timeout_s = v; return *this; }
  Deployment& health_check_period_s(double v) { options_.health_check_period_s = v; return *this; }
  Deployment& health_check_timeout_s(double v) { options_.health_check_timeout_s = v; return *this; }
  Deployment& isolation(Isolation v) { options_.isolation = v; return *this; }
  Deployment& model_name(std::string v) { options_.model_name = std::move(v); return *this; }
  // Replaces every option at once (the name included).
  Deployment& options(DeploymentOptions v) { options_ = std::move(v); return *this; }
  const DeploymentOptions& options() const { return options_; }

  // Copies `args`; each replica is constructed as T(const Args&...), with every bound
  // deployment among them replaced by a DeploymentHandle to it.
  template <class... Args>
  BoundDeployment<T> bind(Args&&... args) const {
    static_assert(std::is_constructible_v<T, const detail::materialized_t<detail::stored_t<Args>>&...>,
                  "bind(args...) must match a constructor of the deployment class (a bound "
                  "deployment arrives as a cserve::DeploymentHandle)");
    std::vector<detail::DeploymentDef> deployments(1);
    (detail::collect_children(deployments, args), ...);
    detail::DeploymentDef& def = deployments.front();
    def.options = options_;
    def.type_name = std::string(detail::full_type_name<T>());
    def.serves_model = detail::ServesModel<T>;
    if constexpr (detail::HasMethods<T>) {
      Methods<T> methods;
      T::methods(methods);
      def.stream_methods = methods.stream_names();
    }
    def.code_version = options_.version.empty()
                           ? detail::fingerprint(def.type_name, {detail::argument_fingerprint(args)...})
                           : options_.version;
    def.has_reconfigure = detail::HasReconfigure<T>;
    def.factory = [stored = std::make_shared<const std::tuple<detail::stored_t<Args>...>>(
                       detail::store_argument(std::forward<Args>(args))...)](
                      const detail::FactoryContext& ctx) -> std::unique_ptr<detail::ReplicaCallable> {
      return std::apply(
          [&](const auto&... a) {
            return std::make_unique<detail::CallableFor<T>>(detail::materialize(a, ctx)...);
          },
          *stored);
    };
    return BoundDeployment<T>(std::move(deployments));
  }

 private:
  DeploymentOptions options_;
};

// A class deployment; its default name is the class name without namespaces.
template <class T>
Deployment<T> deployment() {
  return Deployment<T>(detail::unqualified_name(detail::full_type_name<T>()));
}

// A free-function deployment: cserve::deployment<&hello>(); its default name is "hello".
template <auto F>
  requires std::is_invocable_v<decltype(F), const Request&> || std::is_invocable_v<decltype(F)>
Deployment<detail::FunctionDeployment<F>> deployment() {
  return Deployment<detail::FunctionDeployment<F>>(
      detail::unqualified_name(detail::function_name<F>()));
}

}  // namespace cserve
