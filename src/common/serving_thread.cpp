#include "common/serving_thread.hpp"

#include "common/logging.hpp"

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstring>

namespace cserve {

void start_serving_thread(const char* name, ThreadPolicy policy) {
  if (policy.batch_scheduling) {
    sched_param param{};
    param.sched_priority = 0;
    if (const int err = pthread_setschedparam(pthread_self(), SCHED_BATCH, &param); err != 0) {
      static std::atomic<bool> warned{false};
      if (!warned.exchange(true)) {
        CSERVE_LOG(kWarning, "runtime") << "cannot schedule serving threads as SCHED_BATCH (" << std::strerror(err)
                                        << "); they keep the default policy";
      }
    }
  }
  pthread_setname_np(pthread_self(), name);  // last: a thread seen by its name has its policy
}

}  // namespace cserve
