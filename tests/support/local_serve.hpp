// local_serve.hpp — the runtime as the in-process integration tests start it: HTTP on a free
// loopback port, and 16 CPUs of placement room unless the test says otherwise.
#pragma once

#include <cserve/serve.hpp>

namespace cserve::test {

inline Serve start_local(ServeOptions o = {}) {
  o.http.port = 0;
  if (!o.cpus) o.cpus = 16;
  return start(o);
}

}  // namespace cserve::test
