#include "mlp.hpp"

#include <algorithm>
#include <cstdlib>
#include <random>
#include <sstream>
#include <stdexcept>

namespace mlp {

Weights make_weights(Dims dims, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-0.1f, 0.1f);
  auto fill = [&](std::size_t n) {
    std::vector<float> v(n);
    for (auto& x : v) x = u(rng);
    return v;
  };
  Weights w;
  w.dims = dims;
  w.w1 = fill(static_cast<std::size_t>(dims.hidden) * dims.in);
  w.b1 = fill(dims.hidden);
  w.w2 = fill(static_cast<std::size_t>(dims.out) * dims.hidden);
  w.b2 = fill(dims.out);
  return w;
}

std::vector<float> cpu_forward(const Weights& w, const std::vector<float>& x) {
  const Dims& d = w.dims;
  std::vector<float> h(d.hidden);
  for (int i = 0; i < d.hidden; ++i) {
    float acc = w.b1[i];
    for (int k = 0; k < d.in; ++k) acc += w.w1[static_cast<std::size_t>(k) * d.hidden + i] * x[k];
    h[i] = std::max(acc, 0.0f);
  }
  std::vector<float> y(d.out);
  for (int o = 0; o < d.out; ++o) {
    float acc = w.b2[o];
    for (int k = 0; k < d.hidden; ++k) acc += w.w2[static_cast<std::size_t>(k) * d.out + o] * h[k];
    y[o] = acc;
  }
  return y;
}

int cuda_device_for(const std::vector<int>& gpu_ids, const char* cuda_visible_devices) {
  if (gpu_ids.empty()) {
    throw std::invalid_argument("the replica was given no GPU: deploy it with resources {.gpus = ...}");
  }
  if (cuda_visible_devices && *cuda_visible_devices) {
    std::stringstream list(cuda_visible_devices);
    std::string item;
    for (int position = 0; std::getline(list, item, ','); ++position) {
      if (item == std::to_string(gpu_ids.front())) return position;
    }
  }
  return gpu_ids.front();
}

}  // namespace mlp
