// cserve/multiplex.hpp — model multiplexing: one deployment serves many models (one per customer,
// per language, per fine-tune), each replica keeping a few of them loaded.
//
//   class Customers {
//    public:
//     cserve::Task<cserve::Json> operator()(const cserve::Request& req) {
//       std::shared_ptr<Booster> model = co_await models_.get(cserve::get_multiplexed_model_id());
//       co_return model->predict(req.json());
//     }
//    private:
//     cserve::Multiplexed<Booster> models_{{.max_num_models_per_replica = 3},
//                                         [](const std::string& id) { return load_booster(id); }};
//   };
//
// A request names its model with the `serve_multiplexed_model_id` HTTP header, the
// `multiplexed_model_id` gRPC metadata key, or a handle's options
// (`handle.options({.multiplexed_model_id = "42"})`). Routers send it to the least loaded replica
// that holds the model, else to the replica holding the fewest models, so a model is loaded once
// per replica, not once per request.
//
// get(id) answers from the replica's LRU of loaded models. On a miss it calls the load function
// once, however many requests for that model arrive meanwhile (they all wait for the one load);
// the least recently used model is unloaded (its shared_ptr dropped: calls still using it keep it
// alive until they finish) before a load that would go over max_num_models_per_replica. A load
// that throws fails the requests waiting for it with that exception (throw HttpError(404, ...)
// for an unknown id) and is tried again by the next request; the replica stays healthy.
// The load function returns std::shared_ptr<M> (or std::unique_ptr<M>), or a Task of one, and
// runs on the replica's strand like all of the replica's code. Defaults follow Ray Serve's
// @serve.multiplexed. Metrics: cserve_multiplexed_* (docs/multiplexing.md).
// Thread-safety: use a Multiplexed only from its replica's code (constructor, handlers, hooks).
#pragma once

#include <cserve/detail/resumer.hpp>
#include <cserve/error.hpp>
#include <cserve/handle.hpp>
#include <cserve/task.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace cserve {

inline constexpr std::string_view kMultiplexedModelIdHeader = "serve_multiplexed_model_id";

struct MultiplexOptions {
  int max_num_models_per_replica = 3;
};

// The model id of the request this code serves (see above); empty when it names none.
const std::string& get_multiplexed_model_id();

namespace detail {

// One Multiplexed's bookkeeping in its replica: the cserve_multiplexed_* metrics, and the set of
// model ids routers see for the replica. Made in replica code.
class MultiplexRecorder {
 public:
  MultiplexRecorder();  // throws cserve::Error outside replica code
  ~MultiplexRecorder();
  MultiplexRecorder(const MultiplexRecorder&) = delete;
  MultiplexRecorder& operator=(const MultiplexRecorder&) = delete;

  void requested(bool hit);
  void loaded(std::chrono::steady_clock::duration took, bool ok);
  void unloaded();
  // The models loaded and loading now (routers prefer this replica for them).
  void publish(std::vector<std::string> ids, std::size_t loaded);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace detail

template <class M>
class Multiplexed {
 public:
  template <class F>
  Multiplexed(MultiplexOptions options, F load) : shared_(std::make_shared<Shared>()) {
    if (options.max_num_models_per_replica < 1) {
      throw ConfigError("max_num_models_per_replica must be >= 1");
    }
    shared_->max_models = options.max_num_models_per_replica;
    shared_->load = make_loader(std::move(load));
  }
  ~Multiplexed() { shared_->close(); }
  Multiplexed(const Multiplexed&) = delete;
  Multiplexed& operator=(const Multiplexed&) = delete;

  // The model for `model_id`, loaded on first use. Throws HttpError(400) for an empty id.
  DeploymentResponse<std::shared_ptr<M>> get(std::string model_id) {
    if (model_id.empty()) {
      throw HttpError(400, "this deployment serves multiplexed models: name one with the " +
                               std::string(kMultiplexedModelIdHeader) + " header");
    }
    return shared_->get(std::move(model_id));
  }

  // The ids loaded now, most recently used first.
  std::vector<std::string> loaded() const {
    std::vector<std::string> ids;
    for (const auto& e : shared_->models) ids.push_back(e.id);
    return ids;
  }
  int max_num_models_per_replica() const { return shared_->max_models; }

 private:
  using Model = std::shared_ptr<M>;
  using State = detail::ResponseState<Model>;
  using Loaded = detail::UniqueFunction<void(Model, std::exception_ptr)>;
  using Loader = std::function<void(const std::string&, Loaded)>;

  struct Entry {
    std::string id;
    Model model;
  };
  struct Pending {
    std::string id;
    std::vector<std::shared_ptr<State>> waiting;
  };

  // Outlives the Multiplexed while a load is in flight.
  struct Shared : std::enable_shared_from_this<Shared> {
    detail::MultiplexRecorder recorder;
    int max_models = 3;
    Loader load;
    std::list<Entry> models;      // most recently used first
    std::list<Pending> loading;
    bool closed = false;

    DeploymentResponse<Model> get(std::string id) {
      auto state = std::make_shared<State>();
      if (auto it = find_loaded(id); it != models.end()) {
        models.splice(models.begin(), models, it);
        recorder.requested(true);
        state->set_value(models.front().model);
        return DeploymentResponse<Model>(std::move(state));
      }
      recorder.requested(false);
      for (auto& p : loading) {
        if (p.id == id) {
          p.waiting.push_back(state);
          return DeploymentResponse<Model>(std::move(state));
        }
      }
      loading.push_back(Pending{id, {state}});
      make_room();
      publish();
      const auto started = std::chrono::steady_clock::now();
      load(id, [self = this->shared_from_this(), id, started](Model model, std::exception_ptr error) {
        self->finish(id, std::move(model), error, std::chrono::steady_clock::now() - started);
      });
      return DeploymentResponse<Model>(std::move(state));
    }

    void finish(const std::string& id, Model model, std::exception_ptr error,
                std::chrono::steady_clock::duration took) {
      if (!error && !model) {
        error = std::make_exception_ptr(Error("the load function returned no model for '" + id + "'"));
      }
      std::vector<std::shared_ptr<State>> waiting;
      for (auto it = loading.begin(); it != loading.end(); ++it) {
        if (it->id == id) {
          waiting = std::move(it->waiting);
          loading.erase(it);
          break;
        }
      }
      recorder.loaded(took, !error);
      if (!error && !closed) {
        models.push_front(Entry{id, model});
        make_room();
      }
      publish();
      for (auto& s : waiting) {
        if (error) {
          s->set_error(error);
        } else {
          s->set_value(model);
        }
      }
    }

    // Unloads the least recently used models while the loaded and the loading are over the limit
    // (a model still loading is never unloaded: the limit may be passed while loads are in flight).
    void make_room() {
      while (!models.empty() && models.size() + loading.size() > static_cast<std::size_t>(max_models)) {
        models.pop_back();
        recorder.unloaded();
      }
    }

    typename std::list<Entry>::iterator find_loaded(const std::string& id) {
      return std::find_if(models.begin(), models.end(), [&](const Entry& e) { return e.id == id; });
    }

    void publish() {
      std::vector<std::string> ids;
      for (const auto& e : models) ids.push_back(e.id);
      for (const auto& p : loading) ids.push_back(p.id);
      recorder.publish(std::move(ids), models.size());
    }

    void close() {
      closed = true;
      models.clear();
    }
  };

  template <class F>
  static Loader make_loader(F fn) {
    using R = std::invoke_result_t<F&, const std::string&>;
    return [fn = std::move(fn)](const std::string& id, Loaded done) mutable {
      if constexpr (detail::IsTask<R>::value) {
        try {
          R::start_detached(fn(id), [done = std::move(done)](auto& promise) mutable {
            Model model;
            std::exception_ptr error;
            try {
              model = Model(promise.take());
            } catch (...) {
              error = std::current_exception();
            }
            done(std::move(model), error);
          });
        } catch (...) {
          done(nullptr, std::current_exception());
        }
      } else {
        Model model;
        std::exception_ptr error;
        try {
          model = Model(fn(id));
        } catch (...) {
          error = std::current_exception();
        }
        done(std::move(model), error);
      }
    };
  }

  std::shared_ptr<Shared> shared_;
};

}  // namespace cserve
