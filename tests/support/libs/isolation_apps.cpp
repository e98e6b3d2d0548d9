// Applications the isolation tests run in worker processes: a model whose handlers crash in every
// way a process can (segfault, abort, exit, endless loop), stream, and answer calls by name; an
// in-process ingress that calls it through a handle; typed calls; streams through handles.
#include <cserve/application.hpp>
#include <cserve/cserve.hpp>

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

class Fragile {
 public:
  explicit Fragile(std::string tag) : tag_(std::move(tag)) {}
  static void routes(cserve::Routes<Fragile>& r) {
    r.get("/ok", &Fragile::ok)
        .get("/crash", &Fragile::crash)
        .get("/abort", &Fragile::abort_now)
        .get("/exit", &Fragile::exit_now)
        .get("/hang", &Fragile::hang)
        .get("/print", &Fragile::print)
        .get("/grow", &Fragile::grow)
        .get("/stream", &Fragile::stream)
        .post("/echo", &Fragile::echo);
  }
  static void methods(cserve::Methods<Fragile>& m) { m.add("scale", &Fragile::scale).add("pid", &Fragile::pid); }

  cserve::Json ok() { return {{"pid", ::getpid()}, {"tag", tag_}, {"calls", ++calls_}}; }
  cserve::Json crash() {
    std::raise(SIGSEGV);
    return nullptr;
  }
  cserve::Json abort_now() { std::abort(); }
  cserve::Json exit_now() { std::exit(3); }
  cserve::Json hang() {
    for (volatile bool forever = true; forever;) {
    }
    return nullptr;
  }
  // Allocates (and touches) 16 MiB at a time, holding it, until the process is killed; gives up at
  // 4 GiB, which answers 200 (the limit was not enforced).
  cserve::Json grow() {
    for (int i = 0; i < 256; ++i) {
      held_.emplace_back(16u << 20, static_cast<char>(i));
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return {{"held_mib", held_.size() * 16}};
  }
  cserve::Json print() {
    std::printf("printed by the user's code in pid %d\n", static_cast<int>(::getpid()));
    return "printed";
  }
  cserve::Stream<std::string> stream(const cserve::Request& req) {
    const int n = std::stoi(req.query("n").value_or("3"));
    for (int i = 0; i < n; ++i) co_yield "item " + std::to_string(i) + "\n";
  }
  cserve::Response echo(const cserve::Request& req) {
    cserve::Response r;
    r.body = req.body();
    r.content_type = "application/octet-stream";
    return r;
  }
  std::vector<double> scale(std::vector<double> xs, double k) {
    for (auto& x : xs) x *= k;
    return xs;
  }
  int pid() { return ::getpid(); }

 private:
  std::string tag_;
  int calls_ = 0;
  std::vector<std::vector<char>> held_;
};

// In-process ingress: GET /?x=N calls the model's "scale" by name across the process boundary.
class Front {
 public:
  explicit Front(cserve::DeploymentHandle<> model) : model_(std::move(model)) {}
  cserve::Task<cserve::Json> operator()(const cserve::Request& req) {
    const double x = std::stod(req.query("x").value_or("1"));
    const std::string scale = "scale", pid_method = "pid";  // (GCC 12 cannot co_await with literals here)
    auto scaling = model_.method(scale).remote(std::vector<double>{x, x + 1}, 10.0);
    auto asking = model_.method(pid_method).remote();
    cserve::Json scaled = co_await std::move(scaling);
    cserve::Json pid = co_await std::move(asking);
    co_return cserve::Json{{"scaled", scaled}, {"model_pid", pid}, {"front_pid", ::getpid()}};
  }

 private:
  cserve::DeploymentHandle<> model_;
};

}  // namespace

// args: {"tag": "..."} (a new tag is a new version: a rolling update).
CSERVE_APPLICATION(fragile, args) {
  return cserve::deployment<Fragile>().bind(args.value("tag", std::string("v1")));
}

CSERVE_APPLICATION(composed, args) {
  auto model = cserve::deployment<Fragile>().name("Model").bind(args.value("tag", std::string("v1")));
  return cserve::deployment<Front>().bind(model);
}

// ---- Typed handle calls across the boundary --------------------------------------------------

namespace {

// A user type with a codec of its own and no JSON conversion: its bytes as they are.
struct Image {
  int width = 0;
  std::string pixels;
};

}  // namespace

template <>
struct cserve::Codec<Image> {
  static void encode(const Image& v, std::string& out) {
    out.append(reinterpret_cast<const char*>(&v.width), sizeof v.width);
    out.append(v.pixels);
  }
  static Image decode(std::string_view bytes) {
    if (bytes.size() < sizeof(int)) throw cserve::Error("not an Image", cserve::ErrorCode::kInvalidArgument);
    Image v;
    std::memcpy(&v.width, bytes.data(), sizeof v.width);
    v.pixels = std::string(bytes.substr(sizeof(int)));
    return v;
  }
};

namespace {

class TypedModel {
 public:
  static void methods(cserve::Methods<TypedModel>& m) {
    m.add("invert", &TypedModel::invert).add("slow_sum", &TypedModel::slow_sum).add("refuse", &TypedModel::refuse);
  }
  double operator()(double x) { return 2 * x; }
  Image invert(Image in) {
    for (auto& c : in.pixels) c = static_cast<char>(255 - static_cast<unsigned char>(c));
    return in;
  }
  cserve::Task<long> slow_sum(std::vector<long> xs) {
    co_await cserve::sleep_for(std::chrono::milliseconds(1));
    long s = 0;
    for (long x : xs) s += x;
    co_return s;
  }
  int refuse(std::string why) { throw cserve::Error("refused: " + why, cserve::ErrorCode::kInvalidArgument); }
  int unregistered() { return 1; }
  int pid() { return ::getpid(); }
};

struct Results {
  double doubled = 0;
  Image inverted;
  long sum = 0;
  std::pair<int, std::string> refused, unregistered;
};

Image test_image() { return Image{3, std::string("\x00\x01\xff", 3)}; }
std::string refusal_reason() { return "no reason"; }
std::vector<long> one_two_three() { return {1, 2, 3}; }

cserve::Json to_json(const Results& r) {
  return {{"doubled", r.doubled},
          {"inverted", {r.inverted.width, std::vector<int>(r.inverted.pixels.begin(), r.inverted.pixels.end())}},
          {"sum", r.sum},
          {"refused", {r.refused.first, r.refused.second}},
          {"unregistered", {r.unregistered.first, r.unregistered.second}}};
}

// In-process ingress with a typed handle to the model, which the config isolates.
class TypedFront {
 public:
  explicit TypedFront(cserve::DeploymentHandle<TypedModel> model) : model_(std::move(model)) {}
  // (GCC 12 rejects arrays — string literals, initializer lists — in a full-expression that
  // co_awaits: such values are made by plain functions.)
  cserve::Task<cserve::Json> operator()() {
    Results r;
    r.doubled = co_await model_.remote(21.0);
    r.inverted = co_await model_.method(&TypedModel::invert).remote(test_image());
    r.sum = co_await model_.method(&TypedModel::slow_sum).remote(one_two_three());
    try {
      co_await model_.method(&TypedModel::refuse).remote(refusal_reason());
    } catch (const cserve::Error& e) {
      r.refused = {static_cast<int>(e.code()), e.what()};
    }
    try {
      co_await model_.method(&TypedModel::unregistered).remote();
    } catch (const cserve::Error& e) {
      r.unregistered = {static_cast<int>(e.code()), e.what()};
    }
    co_return to_json(r);
  }

 private:
  cserve::DeploymentHandle<TypedModel> model_;
};

}  // namespace

CSERVE_APPLICATION(typed, args) {
  (void)args;
  return cserve::deployment<TypedFront>().bind(cserve::deployment<TypedModel>().bind());
}

// ---- Streams through handles across the boundary ---------------------------------------------

namespace {

// The isolated model: typed and by-name streams; how many of its generators are alive.
class Tokens {
 public:
  static void methods(cserve::Methods<Tokens>& m) {
    m.add("tokens", &Tokens::tokens).add("images", &Tokens::images).add("failing", &Tokens::failing);
    m.add("alive", &Tokens::alive);
  }
  // n tokens, 2 ms apart; n < 0: until the consumer goes away.
  cserve::Stream<std::string> tokens(int n) {
    Alive counted(alive_);
    for (int i = 0; n < 0 || i < n; ++i) {
      co_await cserve::sleep_for(std::chrono::milliseconds(2));
      co_yield "t" + std::to_string(i);
    }
  }
  // Items of a type that has only a Codec.
  cserve::Stream<Image> images(int n) {
    for (int i = 0; i < n; ++i) co_yield image_of(i);
  }
  cserve::Stream<int> failing() {
    co_yield 1;
    throw cserve::Error(failure_text(), cserve::ErrorCode::kInvalidArgument);
  }
  int alive() { return alive_; }

 private:
  // (GCC 12 miscompiles braced temporaries and literals in a co_yield: plain functions make them.)
  static std::string failure_text() { return "the generator failed after one item"; }
  static Image image_of(int i) { return Image{i, std::string(static_cast<std::size_t>(i), '\xff')}; }
  struct Alive {
    explicit Alive(int& n) : n_(n) { ++n_; }
    ~Alive() { --n_; }
    int& n_;
  };
  int alive_ = 0;
};

std::string newline() { return "\n"; }
std::string tokens_name() { return "tokens"; }

// In-process ingress that relays the model's streams to HTTP clients as they arrive.
class StreamFront {
 public:
  explicit StreamFront(cserve::DeploymentHandle<Tokens> model) : model_(std::move(model)) {}
  static void routes(cserve::Routes<StreamFront>& r) {
    r.get("/typed", &StreamFront::typed)
        .get("/named", &StreamFront::named)
        .get("/images", &StreamFront::images)
        .get("/failing", &StreamFront::failing)
        .get("/alive", &StreamFront::alive);
  }
  cserve::Stream<std::string> typed(const cserve::Request& req) {
    auto tokens = model_.method(&Tokens::tokens).remote(count(req));
    while (auto t = co_await tokens.next()) co_yield *t + newline();
  }
  cserve::Stream<std::string> named(const cserve::Request& req) {
    auto tokens = model_.method(tokens_name()).stream(count(req));
    while (auto t = co_await tokens.next()) co_yield t->dump() + newline();
  }
  cserve::Stream<std::string> images(const cserve::Request& req) {
    auto images = model_.method(&Tokens::images).remote(count(req));
    while (auto image = co_await images.next()) {
      co_yield std::to_string(image->width) + ":" + std::to_string(image->pixels.size()) + newline();
    }
  }
  cserve::Stream<std::string> failing() {
    auto items = model_.method(&Tokens::failing).remote();
    std::string error;  // (a coroutine cannot co_yield inside a handler)
    try {
      while (auto item = co_await items.next()) co_yield std::to_string(*item) + newline();
    } catch (const cserve::Error& e) {
      error = e.what();
    }
    co_yield error;
  }
  cserve::Task<cserve::Json> alive() {
    const int n = co_await model_.method(&Tokens::alive).remote();
    co_return cserve::Json(n);
  }

 private:
  static int count(const cserve::Request& req) { return std::stoi(req.query("n").value_or("3")); }
  cserve::DeploymentHandle<Tokens> model_;
};

}  // namespace

CSERVE_APPLICATION(streams, args) {
  (void)args;
  return cserve::deployment<StreamFront>().bind(cserve::deployment<Tokens>().bind());
}

// ---- A model served over the Open Inference Protocol -----------------------------------------

namespace {

// y = x * k, for any shape of FP32; answers with its pid (INT64) so that tests see where it ran.
class Scaler {
 public:
  explicit Scaler(float k) : k_(k) {}
  cserve::ModelMetadata metadata() const {
    return {.inputs = {{"x", cserve::DataType::kFp32, {-1}}},
            .outputs = {{"y", cserve::DataType::kFp32, {-1}}, {"pid", cserve::DataType::kInt64, {1}}}};
  }
  cserve::InferResponse infer(cserve::InferRequest request) {
    const cserve::Tensor& x = request.input("x");
    cserve::Tensor y("y", cserve::DataType::kFp32, x.shape());
    auto in = x.values<float>();
    auto out = y.mutable_values<float>();
    for (std::size_t i = 0; i < in.size(); ++i) out[i] = in[i] * k_;
    cserve::InferResponse r;
    r.outputs.push_back(std::move(y));
    r.outputs.push_back(cserve::Tensor::of<std::int64_t>("pid", {1}, {static_cast<std::int64_t>(::getpid())}));
    return r;
  }

 private:
  float k_;
};

}  // namespace

CSERVE_APPLICATION(model, args) {
  return cserve::deployment<Scaler>().model_name("scaler").bind(args.value("k", 3.0f));
}

// ---- Multiplexed models in a worker process ---------------------------------------------------

namespace {

// Model "m<k>" multiplies by k. Answers carry the worker's pid and how many loads it has done.
class PidModels {
 public:
  explicit PidModels(int max_models)
      : models_({.max_num_models_per_replica = max_models}, [this](const std::string& id) -> cserve::Task<std::shared_ptr<int>> {
          return load(id);
        }) {}

  cserve::Task<cserve::Json> operator()(const cserve::Request& req) {
    std::shared_ptr<int> k = co_await models_.get(cserve::get_multiplexed_model_id());
    co_return cserve::Json{{"value", *k * req.json().get<int>()}, {"pid", static_cast<long>(::getpid())}, {"loads", loads_}};
  }

 private:
  cserve::Task<std::shared_ptr<int>> load(std::string id) {
    co_await cserve::sleep_for(std::chrono::milliseconds(50));
    if (id.size() < 2 || id[0] != 'm') throw cserve::HttpError(404, "no model '" + id + "'");
    ++loads_;
    co_return std::make_shared<int>(std::stoi(id.substr(1)));
  }

  int loads_ = 0;
  cserve::Multiplexed<int> models_;
};

}  // namespace

CSERVE_APPLICATION(multiplexed, args) {
  return cserve::deployment<PidModels>().num_replicas(2).max_ongoing_requests(32).bind(args.value("max_models", 2));
}
