#include "config/app_loader.hpp"

#include <cserve/detail/app_entry.hpp>
#include <cserve/detail/call_context.hpp>
#include <cserve/error.hpp>

#include <dlfcn.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <cserve/detail/mutex.hpp>

namespace cserve {
namespace {

using AbiFn = const char* (*)();
using ListFn = const detail::AppEntry* (*)();
using RuntimeFn = const void* (*)();

detail::Mutex g_mu;
std::map<std::string, void*> g_loaded CSERVE_GUARDED_BY(g_mu);  // canonical path -> handle (never closed)

const detail::AppEntry* entries_of(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw ConfigError("application library '" + path + "' does not exist");
  std::string key = std::filesystem::canonical(path, ec).string();
  if (ec) key = path;
  void* handle = nullptr;
  {
    detail::MutexLock lock(g_mu);
    auto it = g_loaded.find(key);
    if (it != g_loaded.end()) {
      handle = it->second;
    } else {
      // A path without '/' would make dlopen search the library path instead of the file.
      handle = dlopen(key.find('/') == std::string::npos ? ("./" + key).c_str() : key.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!handle) throw ConfigError("cannot load application library '" + path + "': " + dlerror());
      g_loaded.emplace(key, handle);
    }
  }
  auto abi = reinterpret_cast<AbiFn>(dlsym(handle, "cserve_abi_v1"));
  auto list = reinterpret_cast<ListFn>(dlsym(handle, "cserve_applications_v1"));
  if (!abi || !list) {
    throw ConfigError("'" + path + "' is not a cserve application library (it defines no CSERVE_APPLICATION)");
  }
  if (std::string(abi()) != CSERVE_ABI_TAG) {
    throw ConfigError("'" + path + "' was built against an incompatible cserve (" + abi() +
                      "); this runtime is " CSERVE_ABI_TAG ": rebuild it");
  }
  // A library bound to another copy of the runtime (this process linked cserve statically)
  // would run its replicas outside this one's thread state: refuse it.
  auto runtime = reinterpret_cast<RuntimeFn>(dlsym(handle, "cserve_runtime_v1"));
  if (!runtime || runtime() != reinterpret_cast<const void*>(&detail::current_call)) {
    throw ConfigError("'" + path + "' is bound to another copy of the cserve runtime than this process: "
                      "load application libraries from a process that links libcserve.so (the cserve "
                      "command does)");
  }
  return list();
}

}  // namespace

std::vector<std::string> list_applications(const std::string& library_path) {
  std::vector<std::string> names;
  for (const auto* e = entries_of(library_path); e; e = e->next) names.emplace_back(e->name);
  std::reverse(names.begin(), names.end());  // the list is built newest first
  return names;
}

Application load_application(const std::string& import_path, const Json& args) {
  auto colon = import_path.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == import_path.size()) {
    throw ConfigError("import_path '" + import_path + "' must be 'path/to/library.so:application'");
  }
  const std::string path = import_path.substr(0, colon);
  const std::string name = import_path.substr(colon + 1);
  for (const auto* e = entries_of(path); e; e = e->next) {
    if (name != e->name) continue;
    std::vector<detail::DeploymentDef> defs;
    try {
      defs = e->build(args).deployments();
    } catch (const std::exception& ex) {
      throw ConfigError("application '" + name + "' of '" + path + "' failed to build: " + ex.what());
    }
    // What a worker process loads to build the same deployments.
    std::error_code ec;
    auto absolute = std::filesystem::absolute(path, ec);
    auto origin = std::make_shared<const detail::AppOrigin>(
        detail::AppOrigin{ec ? path : absolute.string(), name, args});
    for (auto& d : defs) d.origin = origin;
    return Application(std::move(defs));
  }
  std::string known;
  for (const auto& n : list_applications(path)) known += (known.empty() ? "" : ", ") + n;
  throw ConfigError("'" + path + "' has no application '" + name + "' (it has: " +
                    (known.empty() ? "none" : known) + ")");
}

}  // namespace cserve
