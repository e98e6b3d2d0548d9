#include <cserve/cserve.hpp>

#include <gtest/gtest.h>

namespace cserve {
namespace {

TEST(Request, QueryParametersAreDecoded) {
  Request r("GET", "/search", "q=hello+world&lang=en%2Dgb&flag&empty=");
  EXPECT_EQ(r.query("q"), "hello world");
  EXPECT_EQ(r.query("lang"), "en-gb");
  EXPECT_EQ(r.query("flag"), "");
  EXPECT_EQ(r.query("empty"), "");
  EXPECT_EQ(r.query("missing"), std::nullopt);
}

TEST(Request, HeadersAreCaseInsensitive) {
  Request r("GET", "/", "", {{"Content-Type", "application/json"}, {"X-Thing", "1"}});
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("X-THING"), "1");
  EXPECT_EQ(r.header("nope"), std::nullopt);
}

TEST(Request, JsonBodyParsesOrAnswers400) {
  Request ok("POST", "/", "", {}, R"({"x": [1, 2]})");
  EXPECT_EQ(ok.json()["x"][1], 2);
  Request bad("POST", "/", "", {}, "{not json");
  try {
    (void)bad.json();
    FAIL() << "expected HttpError";
  } catch (const HttpError& e) {
    EXPECT_EQ(e.status(), 400);
  }
  Request empty("POST", "/");
  EXPECT_THROW((void)empty.json(), HttpError);
}

TEST(Request, PathAlwaysStartsWithSlash) {
  EXPECT_EQ(Request("GET", "").path(), "/");
  EXPECT_EQ(Request("GET", "x").path(), "/x");
}

TEST(Response, JsonAndTextSetContentType) {
  auto j = Response::json({{"count", 1}});
  EXPECT_EQ(j.body, R"({"count":1})");
  EXPECT_EQ(j.content_type, "application/json");
  auto t = Response::text("hi", 201);
  EXPECT_EQ(t.status, 201);
  EXPECT_EQ(t.content_type, "text/plain; charset=utf-8");
  auto e = error_response(404, "nope", "id-1");
  EXPECT_EQ(Json::parse(e.body), (Json{{"error", "nope"}, {"request_id", "id-1"}}));
}

}  // namespace
}  // namespace cserve
