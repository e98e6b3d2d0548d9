// Values as bytes for the wire: raw strings and byte buffers, MessagePack for what JSON converts,
// users' own codecs, and bytes that do not hold the type refused with a reason.
#include <cserve/codec.hpp>
#include <cserve/methods.hpp>

#include <gtest/gtest.h>

#include <map>

namespace demo {

struct Point {
  int x = 0, y = 0;
  bool operator==(const Point&) const = default;
};
void to_json(cserve::Json& j, const Point& p) { j = {{"x", p.x}, {"y", p.y}}; }
void from_json(const cserve::Json& j, Point& p) {
  p.x = j.at("x").get<int>();
  p.y = j.at("y").get<int>();
}

struct Rgb {  // three bytes, with a codec of its own
  std::uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

struct Opaque {
  int secret = 0;
};

}  // namespace demo

template <>
struct cserve::Codec<demo::Rgb> {
  static void encode(const demo::Rgb& v, std::string& out) {
    out.push_back(static_cast<char>(v.r));
    out.push_back(static_cast<char>(v.g));
    out.push_back(static_cast<char>(v.b));
  }
  static demo::Rgb decode(std::string_view bytes) {
    if (bytes.size() != 3) throw cserve::Error("an Rgb is 3 bytes", cserve::ErrorCode::kInvalidArgument);
    return {static_cast<std::uint8_t>(bytes[0]), static_cast<std::uint8_t>(bytes[1]), static_cast<std::uint8_t>(bytes[2])};
  }
};

namespace cserve {
namespace {

TEST(Codec, StringsAndByteBuffersAreTheirRawBytes) {
  const std::string binary("\0\1\xfe\xff", 4);
  EXPECT_EQ(encode(binary), binary);
  EXPECT_EQ(decode<std::string>(binary), binary);
  const std::vector<std::uint8_t> bytes{0, 1, 254, 255};
  EXPECT_EQ(encode(bytes), binary);
  EXPECT_EQ(decode<std::vector<std::uint8_t>>(binary), bytes);
}

TEST(Codec, WhatJsonConvertsTravelsAsMessagePack) {
  EXPECT_EQ(decode<int>(encode(41)), 41);
  EXPECT_EQ(decode<std::vector<float>>(encode(std::vector<float>{0.5f, -2.0f})), (std::vector<float>{0.5f, -2.0f}));
  const std::map<std::string, double> m{{"a", 1.5}, {"b", -3}};
  EXPECT_EQ((decode<std::map<std::string, double>>(encode(m))), m);
  const Json j{{"model", "digits"}, {"probs", {0.1, 0.9}}};
  EXPECT_EQ(decode<Json>(encode(j)), j);
  EXPECT_EQ(encode(41), std::string("\x29", 1)) << "MessagePack's positive fixint";
  EXPECT_EQ(decode<demo::Point>(encode(demo::Point{3, -4})), (demo::Point{3, -4}));
}

TEST(Codec, AUsersOwnCodecIsUsed) {
  EXPECT_EQ(encode(demo::Rgb{1, 2, 3}), std::string("\x01\x02\x03", 3));
  EXPECT_EQ(decode<demo::Rgb>(std::string("\x09\x08\x07", 3)), (demo::Rgb{9, 8, 7}));
}

TEST(Codec, BytesThatDoNotHoldTheTypeAreRefusedNamingIt) {
  try {
    decode<demo::Point>(encode(std::string("not msgpack at all \xc1")));
    FAIL() << "decoded garbage";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("demo::Point"), std::string::npos) << e.what();
  }
  try {
    decode<demo::Point>(encode(42));  // MessagePack, but a number
    FAIL() << "a number became a Point";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("a value that is not a demo::Point"), std::string::npos) << e.what();
  }
}

// A type with neither a codec nor a JSON conversion cannot cross: encode<Opaque> would not compile.
static_assert(!Encodable<demo::Opaque>);
static_assert(Encodable<demo::Point> && Encodable<demo::Rgb> && Encodable<std::string> && Encodable<Json>);

}  // namespace
}  // namespace cserve

// ---- Methods called from another process: codec bytes in and out ------------------------------

namespace {

struct Point {  // a type with a codec and no JSON conversion
  int x = 0, y = 0;
};

}  // namespace

template <>
struct cserve::Codec<Point> {
  static void encode(const Point& p, std::string& out) { out += std::to_string(p.x) + "," + std::to_string(p.y); }
  static Point decode(std::string_view b) {
    const auto comma = b.find(',');
    if (comma == std::string_view::npos) throw Error("not a Point", ErrorCode::kInvalidArgument);
    return {std::stoi(std::string(b.substr(0, comma))), std::stoi(std::string(b.substr(comma + 1)))};
  }
};

namespace cserve {
namespace {

struct Shapes {
  Point mirror(Point p) { return {p.y, p.x}; }
  double scale(double v, int k) { return v * k; }
  Stream<Point> diagonal(int n) {
    for (int i = 0; i < n; ++i) co_yield point(i);
  }
  static Point point(int i) { return {i, i}; }  // (GCC 12: no braced temporaries in a co_yield)
};

Task<void> drain(Stream<std::string> items, std::vector<std::string>& out) {
  while (auto item = co_await items.next()) out.push_back(std::move(*item));
}

// The items of a stream that never suspends, drained on this thread.
std::vector<std::string> items_of(Stream<std::string> items) {
  std::vector<std::string> out;
  Task<void>::start_detached(drain(std::move(items), out), [](auto& promise) { promise.take(); });
  return out;
}

struct Answer {
  std::string bytes;
  std::exception_ptr error;
};

Answer call(const Methods<Shapes>& m, Shapes& s, const std::string& name, std::vector<std::string> args) {
  Answer a;
  m.call_encoded(s, name, std::move(args), [&](std::string r, std::exception_ptr e) {
    a.bytes = std::move(r);
    a.error = e;
  });
  return a;
}

std::string error_text(const Answer& a) {
  try {
    std::rethrow_exception(a.error);
  } catch (const std::exception& e) {
    return e.what();
  }
}

TEST(MethodsEncoded, CallsWithCodecBytesAndFindsMethodsByMemberPointer) {
  Methods<Shapes> m;
  m.add("mirror", &Shapes::mirror).add("scale", &Shapes::scale);
  EXPECT_EQ(m.name_of(&Shapes::mirror), "mirror");
  EXPECT_EQ(m.name_of(&Shapes::scale), "scale");
  Shapes s;
  Answer a = call(m, s, "mirror", {encode(Point{1, 2})});
  ASSERT_FALSE(a.error);
  EXPECT_EQ(decode<Point>(a.bytes).x, 2);
  a = call(m, s, "scale", {encode(1.5), encode(4)});
  ASSERT_FALSE(a.error);
  EXPECT_EQ(decode<double>(a.bytes), 6.0);
  // A type with only a codec cannot be called by name with JSON: the JSON entry is absent.
  bool threw = false;
  m.call(s, "mirror", Json::array({1}), [&](Json, std::exception_ptr e) { threw = e != nullptr; });
  EXPECT_TRUE(threw);
}

TEST(MethodsEncoded, WrongCountsBadBytesAndUnknownNamesAreErrorsThatSayWhich) {
  Methods<Shapes> m;
  m.add("scale", &Shapes::scale);
  Shapes s;
  Answer a = call(m, s, "scale", {encode(1.5)});
  EXPECT_NE(error_text(a).find("takes 2 argument(s), got 1"), std::string::npos) << error_text(a);
  a = call(m, s, "scale", {encode(1.5), "\xc1"});
  EXPECT_NE(error_text(a).find("not MessagePack where a int was expected"), std::string::npos) << error_text(a);
  a = call(m, s, "nope", {});
  EXPECT_NE(error_text(a).find("no method 'nope'"), std::string::npos) << error_text(a);
}

TEST(MethodsEncoded, AStreamYieldsItsItemsAsCodecBytes) {
  Methods<Shapes> m;
  m.add("diagonal", &Shapes::diagonal).add("scale", &Shapes::scale);
  Shapes s;
  auto items = items_of(m.encoded_stream(s, "diagonal", {encode(3)}));
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0], "0,0");  // Point's own codec
  EXPECT_EQ(decode<Point>(items[2]).y, 2);
  // A stream called for a value, a value called as a stream, bad arguments: errors that say which.
  Answer a = call(m, s, "diagonal", {encode(3)});
  EXPECT_NE(error_text(a).find("returns a stream"), std::string::npos) << error_text(a);
  try {
    (void)m.encoded_stream(s, "scale", {encode(1.0), encode(2)});
    ADD_FAILURE() << "a value method was opened as a stream";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not return a stream"), std::string::npos) << e.what();
  }
  try {
    (void)m.encoded_stream(s, "diagonal", {});
    ADD_FAILURE() << "a stream opened with no arguments";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("takes 1 argument(s), got 0"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cserve
