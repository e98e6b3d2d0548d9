// cserve/json.hpp — the JSON value type used across the public API.
// Thread-safety: a Json value is a plain value; share it read-only or copy it.
#pragma once

#include <nlohmann/json.hpp>

namespace cserve {

using Json = nlohmann::json;

}  // namespace cserve
