// request_id.hpp — request ids: 16 random hex digits of process prefix + a per-thread counter,
// unique within a process and across processes with high probability, made without a lock.
// Thread-safety: safe from any thread.
#pragma once

#include <string>
#include <string_view>

namespace cserve {

std::string make_request_id();

// A client-supplied id is taken as is when it is 1..128 printable ASCII characters without
// spaces; anything else is replaced (never echoed back into a header).
bool is_acceptable_request_id(std::string_view id);

}  // namespace cserve
