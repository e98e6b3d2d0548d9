// gpu_metrics.hpp — GPU utilization and memory in /metrics, read through NVML when the machine
// has it. NVML is loaded at run time (dlopen of libnvidia-ml.so.1, which NVIDIA's driver
// installs), so cserve neither links against it nor needs CUDA to build; without it (or when
// nvmlInit fails: no driver, no device) there is simply no GPU sample.
//
// Samples, per device NVML sees (labels gpu = NVML's index, name):
//   cserve_gpu_utilization_percent    time a kernel ran over the last sample period (0..100)
//   cserve_gpu_memory_used_bytes / cserve_gpu_memory_total_bytes
// NVML numbers devices in PCI bus order; CUDA does too when CUDA_DEVICE_ORDER=PCI_BUS_ID.
// Thread-safety: read() may be called from any thread (NVML is thread-safe).
#pragma once

#include "api/metrics_registry.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace cserve {

struct GpuSample {
  unsigned index = 0;
  std::string name;
  double utilization_percent = 0;
  double memory_used_bytes = 0;
  double memory_total_bytes = 0;
};

class NvmlReader {
 public:
  // Null when the library cannot be loaded or initialised; `why` says which.
  static std::unique_ptr<NvmlReader> open(const std::string& library, std::string* why = nullptr);
  ~NvmlReader();
  NvmlReader(const NvmlReader&) = delete;
  NvmlReader& operator=(const NvmlReader&) = delete;

  // One sample per device; a device whose query fails is left out.
  std::vector<GpuSample> read() const;

 private:
  struct Api;
  explicit NvmlReader(std::unique_ptr<Api> api);
  std::unique_ptr<Api> api_;
};

// Registers a collector for the reader's samples with the global registry while it lives.
class GpuMetrics {
 public:
  explicit GpuMetrics(std::unique_ptr<NvmlReader> reader);
  ~GpuMetrics();
  GpuMetrics(const GpuMetrics&) = delete;
  GpuMetrics& operator=(const GpuMetrics&) = delete;

 private:
  std::shared_ptr<const NvmlReader> reader_;  // shared with the collector, which may outlive us briefly
  std::uint64_t collector_ = 0;
};

// The samples as /metrics shows them (for the collector, and tests).
void append_gpu_samples(const std::vector<GpuSample>& gpus, std::vector<CollectedSample>& out);

}  // namespace cserve
