// cserve/detail/type_name.hpp — compile-time names of types and functions, for default
// deployment names ("Counter" for ns::Counter, "hello" for &hello).
// Thread-safety: constexpr, pure.
#pragma once

#include <string>
#include <string_view>

namespace cserve::detail {

// GCC and Clang spell the signature as "... [with T = ns::Counter; ...]" or "[T = ns::Counter]".
constexpr std::string_view pretty_argument(std::string_view pretty, std::string_view key) {
  auto start = pretty.find(key);
  if (start == std::string_view::npos) return pretty;
  start += key.size();
  auto end = pretty.find_first_of(";]", start);
  return pretty.substr(start, end - start);
}

template <class T>
constexpr std::string_view full_type_name() {
  return pretty_argument(__PRETTY_FUNCTION__, "T = ");
}

template <auto F>
constexpr std::string_view function_name() {
  return pretty_argument(__PRETTY_FUNCTION__, "F = ");
}

// "ns::Box<ns::X>" -> "Box<ns::X>"; "(& ns::hello)" -> "hello".
std::string unqualified_name(std::string_view name);

}  // namespace cserve::detail
