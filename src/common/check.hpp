// check.hpp — fatal checks for invariants that cannot fail (never for network or user input,
// which get errors). CSERVE_CHECK always runs; CSERVE_DCHECK runs in builds without NDEBUG (the
// debug and sanitizer presets) and costs nothing in release builds.
// Thread-safety: macros; a failed check prints its place and condition and aborts.
#pragma once

namespace cserve::detail {
[[noreturn]] void check_failed(const char* file, int line, const char* condition);
}

#define CSERVE_CHECK(condition) \
  ((condition) ? (void)0 : ::cserve::detail::check_failed(__FILE__, __LINE__, #condition))

#ifdef NDEBUG
#define CSERVE_DCHECK(condition) ((void)0)
#else
#define CSERVE_DCHECK(condition) CSERVE_CHECK(condition)
#endif
