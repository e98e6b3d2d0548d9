// bytes.hpp — little-endian integers in byte strings, and a reader that checks every read
// against what is left (wire input is never trusted).
// Thread-safety: plain functions; a ByteReader belongs to one decoding.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace cserve::wire {

inline void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
inline std::uint32_t get_u32(const char* p) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}
inline std::uint64_t get_u64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

// Reads from a byte string front to back; every read says whether the bytes were there.
class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : left_(bytes) {}
  std::optional<std::uint32_t> u32() {
    if (left_.size() < 4) return std::nullopt;
    const std::uint32_t v = get_u32(left_.data());
    left_.remove_prefix(4);
    return v;
  }
  // `n` bytes, only if that many are left.
  std::optional<std::string_view> bytes(std::size_t n) {
    if (left_.size() < n) return std::nullopt;
    std::string_view v = left_.substr(0, n);
    left_.remove_prefix(n);
    return v;
  }
  std::string_view rest() const { return left_; }
  bool empty() const { return left_.empty(); }

 private:
  std::string_view left_;
};

}  // namespace cserve::wire
