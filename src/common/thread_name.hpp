// thread_name.hpp — names the calling thread, as top -H, ps -L and debuggers show it (at most 15
// characters: "cserve-worker", "cserve-http").
// Thread-safety: names the calling thread only.
#pragma once

#include <pthread.h>

namespace cserve {

inline void set_thread_name(const char* name) { pthread_setname_np(pthread_self(), name); }

}  // namespace cserve
