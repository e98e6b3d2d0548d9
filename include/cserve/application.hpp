// cserve/application.hpp — applications in shared libraries, for the CLI, the YAML config and the
// admin API (Ray's "module:app" import paths).
//
//   // counter_app.cpp, built with cserve_add_application(counter_app counter_app.cpp)
//   CSERVE_APPLICATION(counter, args) {
//     return cserve::deployment<Counter>().num_replicas(args.value("replicas", 1)).bind();
//   }
//
//   cserve run ./libcounter_app.so:counter        # or import_path: ./libcounter_app.so:counter
//
// `args` is the application's `args` from the config (a JSON object; empty when none). A library
// may define several applications. It must be built with the same cserve and compiler as the
// runtime that loads it (checked when it is loaded) and link cserve's shared library, so that
// both share one runtime.
// Thread-safety: builders run on the loading thread.
#pragma once

#include <cserve/deployment.hpp>
#include <cserve/detail/app_entry.hpp>
#include <cserve/detail/call_context.hpp>
#include <cserve/json.hpp>

#include <exception>
#include <string>

namespace cserve::detail {

// The head of this library's list (hidden: each library has its own).
__attribute__((visibility("hidden"))) inline const AppEntry*& app_list_head() {
  static const AppEntry* head = nullptr;
  return head;
}

struct AppRegistration {
  explicit AppRegistration(AppEntry& e) {
    e.next = app_list_head();
    app_list_head() = &e;
  }
};

}  // namespace cserve::detail

// Exported once per library (weak: every translation unit may define them).
extern "C" __attribute__((weak, visibility("default"))) const char* cserve_abi_v1() { return CSERVE_ABI_TAG; }
extern "C" __attribute__((weak, visibility("default"))) const cserve::detail::AppEntry* cserve_applications_v1() {
  return cserve::detail::app_list_head();
}
// Which copy of the runtime this library is bound to (the loader's must be the same one).
extern "C" __attribute__((weak, visibility("default"))) const void* cserve_runtime_v1() {
  return reinterpret_cast<const void*>(&cserve::detail::current_call);
}

#define CSERVE_APPLICATION(name, args)                                                        \
  static ::cserve::Application cserve_build_##name(const ::cserve::Json& args);              \
  static ::cserve::detail::AppEntry cserve_entry_##name{#name, &cserve_build_##name, nullptr}; \
  static ::cserve::detail::AppRegistration cserve_registration_##name{cserve_entry_##name};    \
  static ::cserve::Application cserve_build_##name(const ::cserve::Json& args)
