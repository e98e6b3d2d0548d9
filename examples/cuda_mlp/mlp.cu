// The GPU half of mlp.hpp: cuBLAS GEMMs and two element-wise kernels on a stream of the replica's
// own.
#include "mlp.hpp"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace mlp {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}

void check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) throw std::runtime_error(std::string(what) + ": cuBLAS status " + std::to_string(s));
}

// h[i, j] = max(h[i, j] + b[i], 0) (relu) or h[i, j] + b[i], for a rows x cols column-major matrix.
__global__ void add_bias(float* h, const float* b, int rows, int cols, bool relu) {
  const int k = blockIdx.x * blockDim.x + threadIdx.x;
  if (k >= rows * cols) return;
  const float v = h[k] + b[k % rows];
  h[k] = relu ? fmaxf(v, 0.0f) : v;
}

float* device_copy(const std::vector<float>& host) {
  float* p = nullptr;
  check(cudaMalloc(&p, host.size() * sizeof(float)), "cudaMalloc");
  check(cudaMemcpy(p, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice), "cudaMemcpy");
  return p;
}

}  // namespace

int cuda_device_count(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (why) *why = cudaGetErrorString(e);
    return 0;
  }
  if (n == 0 && why) *why = "no CUDA device is visible";
  return n;
}

struct GpuMlp::Impl {
  int device = 0;
  Dims dims;
  int max_batch = 1;
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  float *w1 = nullptr, *b1 = nullptr, *w2 = nullptr, *b2 = nullptr;
  float *x = nullptr, *h = nullptr, *y = nullptr;  // work buffers for max_batch inputs
  std::vector<float> host_y;

  ~Impl() {
    if (device >= 0) cudaSetDevice(device);
    for (float* p : {w1, b1, w2, b2, x, h, y}) cudaFree(p);
    if (blas) cublasDestroy(blas);
    if (stream) cudaStreamDestroy(stream);
  }
};

GpuMlp::GpuMlp(int device, const Weights& w, int max_batch) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.device = device;
  m.dims = w.dims;
  m.max_batch = max_batch;
  check(cudaSetDevice(device), "cudaSetDevice");
  check(cudaStreamCreateWithFlags(&m.stream, cudaStreamNonBlocking), "cudaStreamCreate");
  check(cublasCreate(&m.blas), "cublasCreate");
  check(cublasSetStream(m.blas, m.stream), "cublasSetStream");
  m.w1 = device_copy(w.w1);
  m.b1 = device_copy(w.b1);
  m.w2 = device_copy(w.w2);
  m.b2 = device_copy(w.b2);
  check(cudaMalloc(&m.x, sizeof(float) * m.dims.in * max_batch), "cudaMalloc");
  check(cudaMalloc(&m.h, sizeof(float) * m.dims.hidden * max_batch), "cudaMalloc");
  check(cudaMalloc(&m.y, sizeof(float) * m.dims.out * max_batch), "cudaMalloc");
}

GpuMlp::~GpuMlp() = default;

int GpuMlp::device() const { return impl_->device; }

std::vector<std::vector<float>> GpuMlp::forward(const std::vector<std::vector<float>>& batch) {
  Impl& m = *impl_;
  const int n = static_cast<int>(batch.size());
  if (n > m.max_batch) throw std::runtime_error("a batch of " + std::to_string(n) + " is over the buffers' " + std::to_string(m.max_batch));
  check(cudaSetDevice(m.device), "cudaSetDevice");
  for (int j = 0; j < n; ++j) {  // input j is column j of X (in x n)
    check(cudaMemcpyAsync(m.x + static_cast<std::size_t>(j) * m.dims.in, batch[j].data(), sizeof(float) * m.dims.in,
                          cudaMemcpyHostToDevice, m.stream),
          "cudaMemcpyAsync");
  }
  const float one = 1.0f, zero = 0.0f;
  // H = W1 X; H = relu(H + b1); Y = W2 H; Y += b2.
  check(cublasSgemm(m.blas, CUBLAS_OP_N, CUBLAS_OP_N, m.dims.hidden, n, m.dims.in, &one, m.w1, m.dims.hidden, m.x,
                    m.dims.in, &zero, m.h, m.dims.hidden),
        "cublasSgemm");
  const int threads = 256;
  add_bias<<<(m.dims.hidden * n + threads - 1) / threads, threads, 0, m.stream>>>(m.h, m.b1, m.dims.hidden, n, true);
  check(cudaGetLastError(), "add_bias");
  check(cublasSgemm(m.blas, CUBLAS_OP_N, CUBLAS_OP_N, m.dims.out, n, m.dims.hidden, &one, m.w2, m.dims.out, m.h,
                    m.dims.hidden, &zero, m.y, m.dims.out),
        "cublasSgemm");
  add_bias<<<(m.dims.out * n + threads - 1) / threads, threads, 0, m.stream>>>(m.y, m.b2, m.dims.out, n, false);
  check(cudaGetLastError(), "add_bias");
  m.host_y.resize(static_cast<std::size_t>(m.dims.out) * n);
  check(cudaMemcpyAsync(m.host_y.data(), m.y, sizeof(float) * m.host_y.size(), cudaMemcpyDeviceToHost, m.stream),
        "cudaMemcpyAsync");
  check(cudaStreamSynchronize(m.stream), "cudaStreamSynchronize");
  std::vector<std::vector<float>> out(n);
  for (int j = 0; j < n; ++j) {
    out[j].assign(m.host_y.begin() + static_cast<std::ptrdiff_t>(j) * m.dims.out,
                  m.host_y.begin() + static_cast<std::ptrdiff_t>(j + 1) * m.dims.out);
  }
  return out;
}

}  // namespace mlp
