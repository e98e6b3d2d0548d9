// log_buffer.hpp — where log lines go. Lines are appended to a buffer that one background thread
// writes to stderr in batches (every 50 ms, or as soon as 64 KiB are waiting), so a busy proxy's
// access log costs an append under a short lock instead of a system call per line. Lines at
// WARNING and above are written at once, after whatever is buffered (order is kept); flush()
// writes everything now and runs at shutdown and at exit. A sink set by a test or an embedder
// gets every line at once, on the writing thread.
// Thread-safety: every function may be called from any thread.
#pragma once

#include <functional>
#include <string_view>

namespace cserve::log {

// Appends `line` (which ends with '\n'); `urgent` writes it, and everything before it, now.
void emit(std::string_view line, bool urgent);
// Writes every buffered line now.
void flush();
// Replaces stderr with `sink` (an empty function restores stderr). Flushes first.
void set_sink(std::function<void(std::string_view line)> sink);

}  // namespace cserve::log
