// oip_client.hpp — runs tests/grpc/oip_client.py (Python's grpcio with stubs grpc_tools makes
// from proto/open_inference.proto) against a gRPC port: one JSON result per operation (see the
// script for the operations). Failures to run it are test failures.
#pragma once

#include <cserve/json.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace cserve::test {

// Tensor bytes as the script carries them.
inline std::string hex_of(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) {
    out += "0123456789abcdef"[c >> 4];
    out += "0123456789abcdef"[c & 15];
  }
  return out;
}

// The hex of `values`' bytes (row-major elements, as raw tensor contents hold them).
template <class T>
std::string hex_of_values(const std::vector<T>& values) {
  return hex_of(std::string_view(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T)));
}

inline Json run_oip_client(int port, const Json& ops) {
  static std::atomic<int> runs{0};
  const auto dir = std::filesystem::temp_directory_path();
  const std::string tag = std::to_string(::getpid()) + "_" + std::to_string(runs++);
  const std::string in = dir / ("cserve_grpc_" + tag + ".json");
  const std::string out = dir / ("cserve_grpc_" + tag + ".out");
  std::ofstream(in) << ops.dump();
  const std::string command = "/usr/bin/python3 " + std::string(CSERVE_SOURCE_DIR) + "/tests/grpc/oip_client.py " +
                              CSERVE_SOURCE_DIR + "/proto " + std::to_string(port) + " < " + in + " > " + out;
  const int rc = std::system(command.c_str());
  std::ifstream result(out);
  std::stringstream s;
  s << result.rdbuf();
  std::filesystem::remove(in);
  std::filesystem::remove(out);
  EXPECT_EQ(rc, 0) << command << "\n" << s.str();
  Json j = Json::parse(s.str(), nullptr, /*allow_exceptions=*/false);
  EXPECT_TRUE(j.is_array() && j.size() == ops.size()) << s.str();
  return j.is_array() ? j : Json::array();
}

}  // namespace cserve::test
