// mlp.hpp — a two-layer perceptron (in -> hidden, ReLU -> out) whose forward pass runs on an
// NVIDIA GPU with cuBLAS, and the same computation on the CPU as a reference. No CUDA header
// here: only mlp.cu sees the toolkit.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace mlp {

struct Dims {
  int in = 256;
  int hidden = 1024;
  int out = 16;
};

// Weights, column-major as cuBLAS takes them: w1 is hidden x in, w2 is out x hidden.
struct Weights {
  Dims dims;
  std::vector<float> w1, b1, w2, b2;
};

// Deterministic weights (uniform in [-0.1, 0.1) from `seed`).
Weights make_weights(Dims dims, unsigned seed);

// The forward pass on the CPU, for one input of dims.in values.
std::vector<float> cpu_forward(const Weights& w, const std::vector<float>& x);

// How many CUDA devices this process sees; 0 with `why` (CUDA's own words) when none is usable.
int cuda_device_count(std::string* why);

// The CUDA device index for a replica given GPUs `gpu_ids` (cserve's numbering: the devices this
// process sees): the position of the first id in CUDA_VISIBLE_DEVICES when that variable lists it
// (a worker process sees only its own GPUs), else the id itself. Throws std::invalid_argument
// when the replica was given no GPU.
int cuda_device_for(const std::vector<int>& gpu_ids, const char* cuda_visible_devices);

class GpuMlp {
 public:
  // Uploads the weights to `device` and sizes the work buffers for `max_batch` inputs. Throws
  // std::runtime_error with CUDA's or cuBLAS's message.
  GpuMlp(int device, const Weights& weights, int max_batch);
  ~GpuMlp();
  GpuMlp(const GpuMlp&) = delete;
  GpuMlp& operator=(const GpuMlp&) = delete;

  // One batched forward pass (two GEMMs and two small kernels) on the replica's own stream.
  std::vector<std::vector<float>> forward(const std::vector<std::vector<float>>& batch);
  int device() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mlp
