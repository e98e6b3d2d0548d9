// describe_exception.hpp — the message of an exception held in an exception_ptr, for logs.
// Thread-safety: a pure function.
#pragma once

#include <exception>
#include <string>

namespace cserve {

// what() of a std::exception; a fixed text for anything else.
std::string describe_exception(const std::exception_ptr& error);

}  // namespace cserve
