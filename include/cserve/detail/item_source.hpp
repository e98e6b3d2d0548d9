// cserve/detail/item_source.hpp — the consumer's view of a stream produced elsewhere: a generator
// on a replica's strand (StreamDriver), a stream in a worker process pulled over the wire, or
// either with its items converted (MappedItems: to HTTP chunks, to and from codec bytes).
// Thread-safety: one consumer pulls, one pull at a time; implementations say where `cb` runs.
#pragma once

#include <cserve/detail/unique_function.hpp>

#include <exception>
#include <memory>
#include <optional>
#include <utility>

namespace cserve::detail {

template <class T>
class ItemSource {
 public:
  using Callback = UniqueFunction<void(std::optional<T> item, std::exception_ptr error)>;
  virtual ~ItemSource() = default;
  // Produces the next item: `cb` gets it, nullopt at the end, or the stream's exception.
  virtual void pull(Callback cb) = 0;
  // Stops the stream between pulls (the producer's resources are released).
  virtual void cancel() = 0;
};

// The items of `source`, each converted by `map`. When `map` throws, the pull fails with its
// exception and `source` is cancelled: the stream ends there.
template <class From, class To, class Map>
class MappedItems final : public ItemSource<To> {
 public:
  MappedItems(std::shared_ptr<ItemSource<From>> source, Map map) : source_(std::move(source)), map_(std::move(map)) {}

  void pull(typename ItemSource<To>::Callback cb) override {
    source_->pull([source = source_, map = map_, cb = std::move(cb)](std::optional<From> item,
                                                                     std::exception_ptr error) mutable {
      std::optional<To> out;
      if (item && !error) {
        try {
          out.emplace(map(std::move(*item)));
        } catch (...) {
          error = std::current_exception();
          source->cancel();
        }
      }
      cb(std::move(out), error);
    });
  }
  void cancel() override { source_->cancel(); }

 private:
  std::shared_ptr<ItemSource<From>> source_;
  Map map_;
};

template <class To, class From, class Map>
std::shared_ptr<ItemSource<To>> map_items(std::shared_ptr<ItemSource<From>> source, Map map) {
  return std::make_shared<MappedItems<From, To, Map>>(std::move(source), std::move(map));
}

}  // namespace cserve::detail
