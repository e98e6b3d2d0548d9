// cserve/detail/route_matcher.hpp — matches (method, path) against method + path patterns with
// "{name}" parameters. Pure logic, used by Routes<T>.
// Thread-safety: add() before sharing; match() is const and safe from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cserve::detail {

class RouteMatcher {
 public:
  struct Match {
    enum class Kind { kFound, kNotFound, kMethodNotAllowed };
    Kind kind = Kind::kNotFound;
    std::size_t index = 0;                                    // the route, when kFound
    std::vector<std::pair<std::string, std::string>> params;  // decoded, when kFound
    std::string allow;  // methods the path does accept, when kMethodNotAllowed ("GET, POST")
  };

  // Adds a route and returns its index (0, 1, ...). Throws cserve::ConfigError for a pattern
  // that does not start with '/', has an empty or unclosed "{}", or repeats a method + pattern.
  std::size_t add(std::string method, std::string_view pattern);

  // Routes are tried in the order they were added; a trailing '/' is ignored ("/a/" == "/a").
  Match match(std::string_view method, std::string_view path) const;

 private:
  struct Segment {
    std::string text;  // literal text, or the parameter's name
    bool is_param = false;
  };
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<Segment> segments;
  };
  std::vector<Route> routes_;
};

}  // namespace cserve::detail
