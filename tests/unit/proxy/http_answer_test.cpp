// The bytes of a whole answer, as the proxy writes them from either thread.
#include "proxy/http_answer.hpp"

#include <gtest/gtest.h>

namespace cserve {
namespace {

TEST(HttpAnswer, KeepAliveHttp11) {
  Response r = Response::text("hello");
  r.headers = {{"X-Extra", "1"}};
  EXPECT_EQ(serialize_answer(r, "req-1", {}),
            "HTTP/1.1 200 OK\r\nServer: cserve\r\nContent-Type: text/plain; charset=utf-8\r\nX-Request-Id: req-1\r\n"
            "X-Extra: 1\r\nContent-Length: 5\r\n\r\nhello");
}

TEST(HttpAnswer, FramingFollowsTheRequest) {
  Response r = Response::text("abc", 404);
  const std::string close11 = serialize_answer(r, "i", {.version = 11, .keep_alive = false});
  EXPECT_EQ(close11.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u) << close11;
  EXPECT_NE(close11.find("Connection: close\r\n"), std::string::npos);
  const std::string keep10 = serialize_answer(r, "i", {.version = 10, .keep_alive = true});
  EXPECT_EQ(keep10.rfind("HTTP/1.0 404 Not Found\r\n", 0), 0u);
  EXPECT_NE(keep10.find("Connection: keep-alive\r\n"), std::string::npos);
  const std::string close10 = serialize_answer(r, "i", {.version = 10, .keep_alive = false});
  EXPECT_EQ(close10.find("Connection:"), std::string::npos);
}

TEST(HttpAnswer, HeadHasTheLengthButNoBody) {
  const std::string out = serialize_answer(Response::text("twelve bytes"), "i", {.head = true});
  EXPECT_NE(out.find("Content-Length: 12\r\n"), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n");
}

TEST(HttpAnswer, TheHandlersFramingHeadersAreLeftOut) {
  Response r = Response::text("abc");
  r.headers = {{"content-length", "99"}, {"Transfer-Encoding", "chunked"}, {"Connection", "close"}, {"A", "b"}};
  const std::string out = serialize_answer(r, "i", {});
  EXPECT_EQ(out.find("99"), std::string::npos);
  EXPECT_EQ(out.find("chunked"), std::string::npos);
  EXPECT_EQ(out.find("Connection"), std::string::npos);
  EXPECT_NE(out.find("A: b\r\nContent-Length: 3\r\n"), std::string::npos);
}

TEST(HttpAnswer, AnUnknownStatusHasAnEmptyReason) {
  EXPECT_EQ(serialize_answer(Response::text("", 299), "i", {}).rfind("HTTP/1.1 299 \r\n", 0), 0u);
}

TEST(HttpAnswer, AnswersThatWouldBreakTheFramingBecome500) {
  Response split = Response::text("x");
  split.headers = {{"X-A", "1\r\nInjected: yes"}};
  Response checked = checked_answer(split, "r");
  EXPECT_EQ(checked.status, 500);
  EXPECT_NE(checked.body.find("X-A"), std::string::npos);
  EXPECT_EQ(serialize_answer(checked, "r", {}).find("Injected"), std::string::npos);

  Response bad_name = Response::text("x");
  bad_name.headers = {{"Bad Name", "v"}};
  EXPECT_EQ(checked_answer(bad_name, "r").status, 500);
  Response bad_type = Response::text("x");
  bad_type.content_type = "text/plain\r\nX: y";
  EXPECT_EQ(checked_answer(bad_type, "r").status, 500);
  EXPECT_EQ(checked_answer(Response::text("x", 99), "r").status, 500);
  EXPECT_EQ(checked_answer(Response::text("x", 600), "r").status, 500);
  EXPECT_EQ(checked_answer(Response::text("x", 201), "r").status, 201);
}

}  // namespace
}  // namespace cserve
