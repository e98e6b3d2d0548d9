#include "common/request_id.hpp"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <random>

namespace cserve {
namespace {

std::uint64_t process_prefix() {
  static const std::uint64_t prefix = [] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }();
  return prefix;
}

std::atomic<std::uint64_t> g_next_thread_block{0};

}  // namespace

std::string make_request_id() {
  // Each thread takes blocks of 2^20 sequence numbers, so the shared atomic is touched rarely.
  thread_local std::uint64_t next = 0;
  thread_local std::uint64_t end = 0;
  if (next == end) {
    next = g_next_thread_block.fetch_add(1, std::memory_order_relaxed) << 20;
    end = next + (1u << 20);
  }
  char buf[40];
  int n = std::snprintf(buf, sizeof buf, "%016llx-%08llx",
                        static_cast<unsigned long long>(process_prefix()),
                        static_cast<unsigned long long>(next++));
  return std::string(buf, static_cast<std::size_t>(n));
}

bool is_acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

}  // namespace cserve
