// DeploymentHandle::options(): a CallSink in front of the deployment's router that stamps each
// call with the handle's options.
#include <cserve/handle.hpp>

namespace cserve::detail {
namespace {

class OptionsSink final : public CallSink {
 public:
  OptionsSink(std::shared_ptr<CallSink> next, HandleOptions options)
      : next_(std::move(next)), options_(std::move(options)) {}

  void submit(Call call) override {
    if (!options_.multiplexed_model_id.empty()) call.context->set_multiplexed_model_id(options_.multiplexed_model_id);
    next_->submit(std::move(call));
  }

 private:
  const std::shared_ptr<CallSink> next_;
  const HandleOptions options_;
};

}  // namespace

std::shared_ptr<CallSink> with_options(std::shared_ptr<CallSink> sink, HandleOptions options) {
  return std::make_shared<OptionsSink>(std::move(sink), std::move(options));
}

}  // namespace cserve::detail
