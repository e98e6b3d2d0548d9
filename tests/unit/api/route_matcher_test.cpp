#include <cserve/detail/route_matcher.hpp>
#include <cserve/error.hpp>

#include <gtest/gtest.h>

namespace cserve::detail {
namespace {

using Kind = RouteMatcher::Match::Kind;

TEST(RouteMatcher, MatchesLiteralsAndTrailingSlash) {
  RouteMatcher m;
  EXPECT_EQ(m.add("GET", "/"), 0u);
  EXPECT_EQ(m.add("GET", "/incr"), 1u);
  EXPECT_EQ(m.match("GET", "/").index, 0u);
  EXPECT_EQ(m.match("GET", "/incr").index, 1u);
  EXPECT_EQ(m.match("GET", "/incr/").index, 1u);
  EXPECT_EQ(m.match("GET", "/incr").kind, Kind::kFound);
  EXPECT_EQ(m.match("GET", "/decr").kind, Kind::kNotFound);
  EXPECT_EQ(m.match("GET", "/incr/more").kind, Kind::kNotFound);
}

TEST(RouteMatcher, CapturesDecodedParameters) {
  RouteMatcher m;
  m.add("GET", "/items/{id}/parts/{part}");
  auto r = m.match("GET", "/items/a%20b/parts/7");
  ASSERT_EQ(r.kind, Kind::kFound);
  ASSERT_EQ(r.params.size(), 2u);
  EXPECT_EQ(r.params[0], (std::pair<std::string, std::string>{"id", "a b"}));
  EXPECT_EQ(r.params[1], (std::pair<std::string, std::string>{"part", "7"}));
}

TEST(RouteMatcher, KnownPathWithOtherMethodIsMethodNotAllowed) {
  RouteMatcher m;
  m.add("GET", "/items");
  m.add("POST", "/items");
  m.add("DELETE", "/items/{id}");
  auto r = m.match("PUT", "/items");
  EXPECT_EQ(r.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(r.allow, "GET, POST");
  EXPECT_EQ(m.match("POST", "/items").index, 1u);
}

TEST(RouteMatcher, FirstRegisteredRouteWins) {
  RouteMatcher m;
  m.add("GET", "/items/latest");
  m.add("GET", "/items/{id}");
  EXPECT_EQ(m.match("GET", "/items/latest").index, 0u);
  EXPECT_EQ(m.match("GET", "/items/3").index, 1u);
}

TEST(RouteMatcher, RejectsMalformedAndDuplicatePatterns) {
  RouteMatcher m;
  EXPECT_THROW(m.add("GET", "items"), ConfigError);
  EXPECT_THROW(m.add("GET", "/items/{}"), ConfigError);
  EXPECT_THROW(m.add("GET", "/items/{id"), ConfigError);
  EXPECT_THROW(m.add("GET", "/items/x{id}"), ConfigError);
  m.add("GET", "/items/{id}");
  EXPECT_THROW(m.add("GET", "/items/{name}"), ConfigError);
  EXPECT_NO_THROW(m.add("POST", "/items/{name}"));
}

}  // namespace
}  // namespace cserve::detail
