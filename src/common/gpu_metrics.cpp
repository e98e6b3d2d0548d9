#include "common/gpu_metrics.hpp"

#include <dlfcn.h>

namespace cserve {
namespace {

// NVML's C API, as documented: every call returns nvmlReturn_t (0 = NVML_SUCCESS); devices are
// opaque handles.
using NvmlReturn = int;
using NvmlDevice = void*;
struct NvmlUtilization {
  unsigned int gpu;
  unsigned int memory;
};
struct NvmlMemory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};
constexpr NvmlReturn kNvmlSuccess = 0;
constexpr unsigned kNameBytes = 96;  // NVML_DEVICE_NAME_V2_BUFFER_SIZE

}  // namespace

struct NvmlReader::Api {
  void* handle = nullptr;
  NvmlReturn (*shutdown)() = nullptr;
  NvmlReturn (*count)(unsigned*) = nullptr;
  NvmlReturn (*device)(unsigned, NvmlDevice*) = nullptr;
  NvmlReturn (*name)(NvmlDevice, char*, unsigned) = nullptr;
  NvmlReturn (*utilization)(NvmlDevice, NvmlUtilization*) = nullptr;
  NvmlReturn (*memory)(NvmlDevice, NvmlMemory*) = nullptr;
};

std::unique_ptr<NvmlReader> NvmlReader::open(const std::string& library, std::string* why) {
  auto fail = [&](std::string reason) -> std::unique_ptr<NvmlReader> {
    if (why) *why = std::move(reason);
    return nullptr;
  };
  void* h = ::dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) return fail(std::string("cannot load ") + library + ": " + ::dlerror());
  auto api = std::make_unique<Api>();
  api->handle = h;
  auto sym = [&](const char* name) { return ::dlsym(h, name); };
  auto init = reinterpret_cast<NvmlReturn (*)()>(sym("nvmlInit_v2"));
  api->shutdown = reinterpret_cast<NvmlReturn (*)()>(sym("nvmlShutdown"));
  api->count = reinterpret_cast<NvmlReturn (*)(unsigned*)>(sym("nvmlDeviceGetCount_v2"));
  api->device = reinterpret_cast<NvmlReturn (*)(unsigned, NvmlDevice*)>(sym("nvmlDeviceGetHandleByIndex_v2"));
  api->name = reinterpret_cast<NvmlReturn (*)(NvmlDevice, char*, unsigned)>(sym("nvmlDeviceGetName"));
  api->utilization = reinterpret_cast<NvmlReturn (*)(NvmlDevice, NvmlUtilization*)>(sym("nvmlDeviceGetUtilizationRates"));
  api->memory = reinterpret_cast<NvmlReturn (*)(NvmlDevice, NvmlMemory*)>(sym("nvmlDeviceGetMemoryInfo"));
  if (!init || !api->shutdown || !api->count || !api->device || !api->name || !api->utilization || !api->memory) {
    ::dlclose(h);
    return fail(library + " lacks the NVML functions cserve reads");
  }
  if (const NvmlReturn rc = init(); rc != kNvmlSuccess) {
    ::dlclose(h);
    return fail("nvmlInit failed (" + std::to_string(rc) + "): no NVIDIA driver or device");
  }
  return std::unique_ptr<NvmlReader>(new NvmlReader(std::move(api)));
}

NvmlReader::NvmlReader(std::unique_ptr<Api> api) : api_(std::move(api)) {}

NvmlReader::~NvmlReader() {
  api_->shutdown();
  ::dlclose(api_->handle);
}

std::vector<GpuSample> NvmlReader::read() const {
  std::vector<GpuSample> out;
  unsigned count = 0;
  if (api_->count(&count) != kNvmlSuccess) return out;
  for (unsigned i = 0; i < count; ++i) {
    NvmlDevice d = nullptr;
    NvmlUtilization u{};
    NvmlMemory m{};
    char name[kNameBytes] = {};
    if (api_->device(i, &d) != kNvmlSuccess || api_->utilization(d, &u) != kNvmlSuccess ||
        api_->memory(d, &m) != kNvmlSuccess) {
      continue;
    }
    if (api_->name(d, name, kNameBytes) != kNvmlSuccess) name[0] = '\0';
    name[kNameBytes - 1] = '\0';
    out.push_back({i, name, static_cast<double>(u.gpu), static_cast<double>(m.used), static_cast<double>(m.total)});
  }
  return out;
}

void append_gpu_samples(const std::vector<GpuSample>& gpus, std::vector<CollectedSample>& out) {
  for (const GpuSample& g : gpus) {
    const std::vector<std::pair<std::string, std::string>> labels{{"gpu", std::to_string(g.index)}, {"name", g.name}};
    out.push_back({"cserve_gpu_utilization_percent", "share of the last sample period a kernel ran on the GPU (NVML)",
                   MetricType::kGauge, labels, g.utilization_percent});
    out.push_back({"cserve_gpu_memory_used_bytes", "GPU memory in use (NVML)", MetricType::kGauge, labels,
                   g.memory_used_bytes});
    out.push_back({"cserve_gpu_memory_total_bytes", "GPU memory in all (NVML)", MetricType::kGauge, labels,
                   g.memory_total_bytes});
  }
}

GpuMetrics::GpuMetrics(std::unique_ptr<NvmlReader> reader) : reader_(std::move(reader)) {
  collector_ = MetricsRegistry::global().add_collector(
      [r = reader_](std::vector<CollectedSample>& out) { append_gpu_samples(r->read(), out); });
}

GpuMetrics::~GpuMetrics() { MetricsRegistry::global().remove_collector(collector_); }

}  // namespace cserve
