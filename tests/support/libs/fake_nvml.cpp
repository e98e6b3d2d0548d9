// A stand-in for NVIDIA's libnvidia-ml.so.1 with the few calls cserve reads, for testing the GPU
// metrics on machines without a GPU: two devices, the second of which fails its utilization
// query. FAKE_NVML_INIT_RC makes nvmlInit_v2 return that code.
#include <cstdlib>
#include <cstring>

extern "C" {

struct FakeUtilization {
  unsigned int gpu;
  unsigned int memory;
};
struct FakeMemory {
  unsigned long long total;
  unsigned long long free;
  unsigned long long used;
};

static int g_devices[2] = {0, 1};

int nvmlInit_v2() {
  const char* rc = std::getenv("FAKE_NVML_INIT_RC");
  return rc ? std::atoi(rc) : 0;
}
int nvmlShutdown() { return 0; }
int nvmlDeviceGetCount_v2(unsigned* count) {
  *count = 2;
  return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned index, void** device) {
  if (index > 1) return 2;  // NVML_ERROR_INVALID_ARGUMENT
  *device = &g_devices[index];
  return 0;
}
int nvmlDeviceGetName(void* device, char* name, unsigned length) {
  std::strncpy(name, *static_cast<int*>(device) == 0 ? "Fake GPU" : "Broken GPU", length);
  return 0;
}
int nvmlDeviceGetUtilizationRates(void* device, FakeUtilization* u) {
  if (*static_cast<int*>(device) != 0) return 3;  // NVML_ERROR_NOT_SUPPORTED
  u->gpu = 42;
  u->memory = 7;
  return 0;
}
int nvmlDeviceGetMemoryInfo(void*, FakeMemory* m) {
  m->total = 80ull << 30;
  m->used = 1ull << 30;
  m->free = m->total - m->used;
  return 0;
}
}
