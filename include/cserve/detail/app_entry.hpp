// cserve/detail/app_entry.hpp — the contract between an application library (CSERVE_APPLICATION)
// and the runtime that loads it: the list entry each application exports and the ABI tag both
// sides must agree on.
// Thread-safety: constants.
#pragma once

#include <cserve/deployment.hpp>
#include <cserve/json.hpp>

// What must match between a library and the runtime that loads it.
#define CSERVE_ABI_TAG "cserve-abi-1 gcc-" __VERSION__ " cxx-" CSERVE_ABI_STR(__cplusplus)
#define CSERVE_ABI_STR(x) CSERVE_ABI_STR2(x)
#define CSERVE_ABI_STR2(x) #x

namespace cserve::detail {

// One application a library offers; the macro links them into a list per library.
struct AppEntry {
  const char* name;
  Application (*build)(const Json& args);
  const AppEntry* next;
};

}  // namespace cserve::detail
