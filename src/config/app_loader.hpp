// app_loader.hpp — loads applications from shared libraries (CSERVE_APPLICATION): dlopen, the
// ABI check, the lookup by name, the builder call. Libraries stay loaded for the life of the
// process (replicas run their code).
// Thread-safety: every function is safe from any thread.
#pragma once

#include <cserve/deployment.hpp>
#include <cserve/json.hpp>

#include <string>
#include <vector>

namespace cserve {

// "path/lib.so:name" -> builds the application. Throws ConfigError naming the path and the
// reason: no such file, not loadable, not a cserve library, another cserve ABI, no such
// application (listing those there are), or the builder threw.
Application load_application(const std::string& import_path, const Json& args);

// The applications a library defines, in definition order.
std::vector<std::string> list_applications(const std::string& library_path);

}  // namespace cserve
