// GPU metrics through NVML, against a stand-in library (no GPU needed); a real NVML is checked by
// scripts/gpu_check.sh on a machine with one.
#include "common/gpu_metrics.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

namespace cserve {
namespace {

TEST(GpuMetrics, NoNvmlMeansNoSamplesAndSaysWhy) {
  std::string why;
  EXPECT_EQ(NvmlReader::open("/nonexistent/libnvidia-ml.so.1", &why), nullptr);
  EXPECT_NE(why.find("cannot load /nonexistent/libnvidia-ml.so.1"), std::string::npos) << why;
  EXPECT_EQ(NvmlReader::open(CSERVE_PLAIN_LIB, &why), nullptr);
  EXPECT_NE(why.find("lacks the NVML functions"), std::string::npos) << why;
  ::setenv("FAKE_NVML_INIT_RC", "9", 1);  // NVML_ERROR_DRIVER_NOT_LOADED
  EXPECT_EQ(NvmlReader::open(CSERVE_FAKE_NVML, &why), nullptr);
  ::unsetenv("FAKE_NVML_INIT_RC");
  EXPECT_NE(why.find("nvmlInit failed (9)"), std::string::npos) << why;
}

TEST(GpuMetrics, DevicesAreReportedInMetricsAndAFailingOneIsLeftOut) {
  std::string why;
  auto reader = NvmlReader::open(CSERVE_FAKE_NVML, &why);
  ASSERT_NE(reader, nullptr) << why;
  auto samples = reader->read();
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0].index, 0u);
  EXPECT_EQ(samples[0].name, "Fake GPU");
  EXPECT_EQ(samples[0].utilization_percent, 42);
  EXPECT_EQ(samples[0].memory_used_bytes, 1073741824.0);
  EXPECT_EQ(samples[0].memory_total_bytes, 85899345920.0);
  {
    GpuMetrics metrics(std::move(reader));
    const std::string text = MetricsRegistry::global().render();
    EXPECT_NE(text.find("cserve_gpu_utilization_percent{gpu=\"0\",name=\"Fake GPU\"} 42"), std::string::npos) << text;
    EXPECT_NE(text.find("# TYPE cserve_gpu_memory_total_bytes gauge"), std::string::npos) << text;
    EXPECT_EQ(text.find("Broken GPU"), std::string::npos) << text;
  }
  EXPECT_EQ(MetricsRegistry::global().render().find("cserve_gpu_"), std::string::npos) << "its collector went with it";
}

}  // namespace
}  // namespace cserve
