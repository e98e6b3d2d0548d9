#include "api/request_id.hpp"

#include <atomic>
#include <cstdint>
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
  // "<16 hex digits of prefix>-<at least 8 hex digits of sequence>", formatted by hand: this runs
  // once per request and per handle call.
  static constexpr char kHex[] = "0123456789abcdef";
  const std::uint64_t prefix = process_prefix();
  const std::uint64_t seq = next++;
  int seq_digits = 8;
  while (seq_digits < 16 && (seq >> (4 * seq_digits)) != 0) ++seq_digits;
  std::string id(17 + static_cast<std::size_t>(seq_digits), '-');
  for (int i = 0; i < 16; ++i) id[static_cast<std::size_t>(i)] = kHex[(prefix >> (4 * (15 - i))) & 0xf];
  for (int i = 0; i < seq_digits; ++i) {
    id[17 + static_cast<std::size_t>(i)] = kHex[(seq >> (4 * (seq_digits - 1 - i))) & 0xf];
  }
  return id;
}

bool is_acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

}  // namespace cserve
