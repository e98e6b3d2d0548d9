// cserve/logging.hpp — log lines from user code, written like cserve's own: to stderr, as text
// or JSON (ServeOptions::logging), tagged with the application, deployment, replica and request
// id of the handler that writes them.
//
//   cserve::log_info("loaded model " + path);
//
// Thread-safety: callable from any thread; each line is written whole.
#pragma once

#include <string_view>

namespace cserve {

void log_debug(std::string_view message);
void log_info(std::string_view message);
void log_warning(std::string_view message);
void log_error(std::string_view message);

}  // namespace cserve
