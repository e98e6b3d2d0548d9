// asio.hpp — the one place cserve includes Boost.Asio. Boost 1.74's awaitable.hpp misses
// <utility> under GCC 12, so it comes first.
#pragma once

#include <utility>

#include <boost/asio.hpp>

namespace cserve {
namespace asio = boost::asio;
}
