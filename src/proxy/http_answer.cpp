#include "proxy/http_answer.hpp"

#include "common/logging.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/status.hpp>

#include <charconv>

namespace cserve {
namespace {

namespace http = boost::beast::http;

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!is_token_char(c)) return false;
  }
  return true;
}

bool valid_value(std::string_view value) { return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos; }

// Framing is the proxy's: what the handler set of it is left out.
bool is_framing(std::string_view name) {
  return boost::beast::iequals(name, "Content-Length") || boost::beast::iequals(name, "Transfer-Encoding") ||
         boost::beast::iequals(name, "Connection");
}

void append_number(std::string& out, std::size_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, end);
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

}  // namespace

Response checked_answer(Response r, std::string_view request_id) {
  std::string problem;
  if (r.status < 100 || r.status > 599) {
    problem = "handler returned invalid HTTP status " + std::to_string(r.status);
  } else if (!valid_value(r.content_type)) {
    problem = "handler returned a content type with CR, LF or NUL";
  } else {
    for (const auto& [name, value] : r.headers) {
      if (!valid_name(name)) {
        problem = "handler returned an invalid header name '" + name + "'";
      } else if (!valid_value(value)) {
        problem = "handler returned header '" + name + "' with CR, LF or NUL in its value";
      }
      if (!problem.empty()) break;
    }
  }
  if (problem.empty()) return r;
  CSERVE_LOG(kError, "proxy") << "request " << request_id << ": " << problem << "; answering 500";
  return error_response(500, problem, request_id);
}

std::string serialize_answer(const Response& r, std::string_view request_id, const AnswerFraming& framing) {
  std::string out;
  out.reserve(160 + r.content_type.size() + request_id.size() + (framing.head ? 0 : r.body.size()));
  out.append(framing.version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
  append_number(out, static_cast<std::size_t>(r.status));
  out.push_back(' ');
  const auto status = http::int_to_status(static_cast<unsigned>(r.status));
  if (status != http::status::unknown) {
    const auto reason = http::obsolete_reason(status);
    out.append(reason.data(), reason.size());
  }
  out.append("\r\n");
  append_field(out, "Server", "cserve");
  append_field(out, "Content-Type", r.content_type);
  append_field(out, "X-Request-Id", request_id);
  for (const auto& [name, value] : r.headers) {
    if (!is_framing(name)) append_field(out, name, value);
  }
  out.append("Content-Length: ");
  append_number(out, r.body.size());
  out.append("\r\n");
  if (framing.version == 10 && framing.keep_alive) out.append("Connection: keep-alive\r\n");
  if (framing.version != 10 && !framing.keep_alive) out.append("Connection: close\r\n");
  out.append("\r\n");
  if (!framing.head) out.append(r.body);
  return out;
}

}  // namespace cserve
