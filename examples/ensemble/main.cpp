// Model composition: two models and a combiner, served over HTTP and called through a handle.
//
//   $ ./ensemble --port 8000
//   $ curl -d '[1, 2, 3]' localhost:8000/predict   -> {"a":3.0,"b":3.0,"mean":3.0}
//
// ModelA and ModelB are deployments of their own (each with its replicas and options); the
// Ensemble receives handles to them and calls both at once from a coroutine.
#include <cserve/cserve.hpp>

#include "../common/example_args.hpp"

#include <algorithm>
#include <cstdio>
#include <numeric>

class ModelA {  // a "linear model": the mean of the features
 public:
  double operator()(std::vector<double> x) {
    if (x.empty()) throw cserve::HttpError(400, "expected a non-empty JSON array of numbers");
    return std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
  }
};

class ModelB {  // a "tree model": the largest feature, through a named method
 public:
  double predict(std::vector<double> x) {
    if (x.empty()) throw cserve::HttpError(400, "expected a non-empty JSON array of numbers");
    return *std::max_element(x.begin(), x.end());
  }
};

class Ensemble {
 public:
  Ensemble(cserve::DeploymentHandle<ModelA> a, cserve::DeploymentHandle<ModelB> b)
      : a_(std::move(a)), b_(std::move(b)) {}

  // The handle entry point: features in, scores out.
  cserve::Task<cserve::Json> predict(std::vector<double> x) {
    auto ra = a_.remote(x);  // both calls are in flight now
    auto rb = b_.method(&ModelB::predict).remote(x);
    double a = co_await ra;
    double b = co_await rb;
    co_return cserve::Json{{"a", a}, {"b", b}, {"mean", (a + b) / 2}};
  }

  // The HTTP entry point: POST a JSON array.
  cserve::Task<cserve::Json> operator()(const cserve::Request& req) {
    cserve::Json body = req.json();
    if (!body.is_array()) throw cserve::HttpError(400, "expected a JSON array of numbers");
    std::vector<double> x;
    try {
      x = body.get<std::vector<double>>();
    } catch (const cserve::Json::exception&) {
      throw cserve::HttpError(400, "expected a JSON array of numbers");
    }
    co_return co_await predict(std::move(x));
  }

 private:
  cserve::DeploymentHandle<ModelA> a_;
  cserve::DeploymentHandle<ModelB> b_;
};

int main(int argc, char** argv) {
  return examples::guarded_main(argv[0], [&] {
    cserve::Serve serve = cserve::start(examples::parse_args(argc, argv));
    // Small models: a quarter of a CPU each, so the whole graph fits a 2-core laptop.
    const cserve::Resources small{.cpus = 0.25};
    auto app = cserve::deployment<Ensemble>().resources(small).bind(
        cserve::deployment<ModelA>().num_replicas(2).resources(small).bind(),
        cserve::deployment<ModelB>().resources(small).bind());
    cserve::DeploymentHandle<Ensemble> ensemble = serve.run(app, {.route_prefix = "/predict"});
    // The same graph through a handle, from this plain thread.
    cserve::Json scores = ensemble.method(&Ensemble::predict).remote(std::vector<double>{1, 2, 6}).result();
    std::printf("handle: predict([1, 2, 6]) = %s\n", scores.dump().c_str());
    serve.wait([&] { examples::announce(serve); });
  });
}
