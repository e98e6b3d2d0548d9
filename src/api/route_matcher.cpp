#include <cserve/detail/route_matcher.hpp>

#include <cserve/error.hpp>

namespace cserve::detail {

std::string decode_path_segment(std::string_view s);

namespace {

// "/a/b/" -> {"a", "b"}; "/" -> {}.
std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    auto j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace

std::size_t RouteMatcher::add(std::string method, std::string_view pattern) {
  if (pattern.empty() || pattern.front() != '/') {
    throw ConfigError("route pattern '" + std::string(pattern) + "' must start with '/'");
  }
  Route route{std::move(method), std::string(pattern), {}};
  for (auto part : split_path(pattern)) {
    Segment seg;
    if (part.front() == '{') {
      if (part.size() < 3 || part.back() != '}') {
        throw ConfigError("route pattern '" + std::string(pattern) +
                          "' has a malformed parameter '" + std::string(part) + "'");
      }
      seg.text = std::string(part.substr(1, part.size() - 2));
      seg.is_param = true;
    } else {
      if (part.find_first_of("{}") != std::string_view::npos) {
        throw ConfigError("route pattern '" + std::string(pattern) +
                          "': a parameter must be a whole segment, as in /items/{id}");
      }
      seg.text = std::string(part);
    }
    route.segments.push_back(std::move(seg));
  }
  for (const auto& r : routes_) {
    bool same_shape = r.method == route.method && r.segments.size() == route.segments.size();
    for (std::size_t i = 0; same_shape && i < r.segments.size(); ++i) {
      same_shape = r.segments[i].is_param == route.segments[i].is_param &&
                   (r.segments[i].is_param || r.segments[i].text == route.segments[i].text);
    }
    if (same_shape) {
      throw ConfigError("route " + route.method + " " + route.pattern + " repeats " + r.method +
                        " " + r.pattern);
    }
  }
  routes_.push_back(std::move(route));
  return routes_.size() - 1;
}

RouteMatcher::Match RouteMatcher::match(std::string_view method, std::string_view path) const {
  Match result;
  auto parts = split_path(path);
  for (std::size_t index = 0; index < routes_.size(); ++index) {
    const Route& r = routes_[index];
    if (r.segments.size() != parts.size()) continue;
    bool ok = true;
    for (std::size_t i = 0; ok && i < parts.size(); ++i) {
      ok = r.segments[i].is_param || r.segments[i].text == parts[i];
    }
    if (!ok) continue;
    if (r.method != method) {
      result.kind = Match::Kind::kMethodNotAllowed;
      if (result.allow.find(r.method) == std::string::npos) {
        if (!result.allow.empty()) result.allow += ", ";
        result.allow += r.method;
      }
      continue;
    }
    result.kind = Match::Kind::kFound;
    result.index = index;
    result.allow.clear();
    for (std::size_t i = 0; i < parts.size(); ++i) {
      if (r.segments[i].is_param) {
        result.params.emplace_back(r.segments[i].text, decode_path_segment(parts[i]));
      }
    }
    return result;
  }
  return result;
}

}  // namespace cserve::detail
