#include "runtime/library_shipping.hpp"

#include "common/asio.hpp"
#include "common/logging.hpp"

#include <cserve/error.hpp>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <unistd.h>

#include <cstdlib>

namespace cserve::detail {
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
namespace {

constexpr std::uint64_t kMaxLibraryBytes = 1ull << 30;  // 1 GiB
constexpr std::chrono::seconds kFetchTimeout{60};

// "dir/lib.so:app" -> {"dir/lib.so", "app"}.
std::pair<std::string, std::string> split_import_path(const std::string& import_path) {
  const auto colon = import_path.rfind(':');
  if (colon == std::string::npos) throw ConfigError("import_path '" + import_path + "' must be 'library.so:application'");
  return {import_path.substr(0, colon), import_path.substr(colon + 1)};
}

// GET http://ip:port/api/blobs/<sha256>: the body on 200, else why not.
std::pair<std::optional<std::string>, std::string> get_blob(const cluster::NodeRecord& node, const std::string& sha256,
                                                            const std::string& token) {
  try {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(kFetchTimeout);
    stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address(node.ip), static_cast<unsigned short>(node.admin_port)));
    http::request<http::empty_body> req(http::verb::get, "/api/blobs/" + sha256, 11);
    req.set(http::field::host, node.ip);
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxLibraryBytes);
    http::read(stream, buffer, parser);
    const auto& res = parser.get();
    if (res.result_int() == 200) return {res.body(), ""};
    std::string why = "HTTP " + std::to_string(res.result_int());
    const Json error = Json::parse(res.body(), nullptr, /*allow_exceptions=*/false);
    if (error.is_object() && error.contains("error") && error["error"].is_string()) {
      why += " (" + error["error"].get<std::string>() + ")";
    }
    return {std::nullopt, why};
  } catch (const std::exception& e) {
    return {std::nullopt, e.what()};
  }
}

}  // namespace

fs::path default_blob_dir(const std::string& node) {
  if (const char* dir = std::getenv("CSERVE_BLOB_DIR"); dir && *dir) return fs::path(dir) / node;
  return fs::temp_directory_path() / ("cserve-blobs-" + std::to_string(::getuid())) / node;
}

LibraryShipping::LibraryShipping(std::string self, fs::path dir, std::string token,
                                 std::function<std::vector<cluster::NodeRecord>()> nodes)
    : self_(std::move(self)), store_(std::move(dir)), token_(std::move(token)), nodes_(std::move(nodes)) {}

Json LibraryShipping::ship(Json config) const {
  if (!config.is_object() || !config.contains("applications") || !config["applications"].is_array()) return config;
  for (Json& app : config["applications"]) {
    if (!app.is_object() || !app.contains("import_path") || !app["import_path"].is_string()) continue;
    if (app.contains("library_sha256")) continue;  // named by content already (a config from the cluster)
    const auto [library, name] = split_import_path(app["import_path"].get<std::string>());
    if (!fs::exists(library)) {
      throw ConfigError("application '" + app.value("name", std::string("?")) + "': the library '" + library +
                        "' does not exist on node '" + self_ + "', which received the config (the library ships "
                        "from the node that receives it)");
    }
    app["library_sha256"] = store_.add_file(library);
  }
  return config;
}

Json LibraryShipping::localize(Json config) const {
  if (!config.is_object() || !config.contains("applications") || !config["applications"].is_array()) return config;
  for (Json& app : config["applications"]) {
    if (!app.is_object() || !app.contains("library_sha256") || !app["library_sha256"].is_string()) continue;
    const std::string sha = app["library_sha256"].get<std::string>();
    const auto [library, name] = split_import_path(app.value("import_path", std::string(":")));
    const fs::path local = fetch(sha, fs::path(library).filename().string());
    app["import_path"] = local.string() + ":" + name;
  }
  return config;
}

fs::path LibraryShipping::fetch(const std::string& sha256, const std::string& name) const {
  if (!cluster::is_sha256_hex(sha256)) throw ConfigError("library_sha256 '" + sha256 + "' is not a SHA-256 (64 hex digits)");
  if (auto here = store_.find(sha256)) return *here;
  std::string answers;
  for (const cluster::NodeRecord& node : nodes_()) {
    if (node.id == self_ || node.admin_port <= 0) continue;
    auto [bytes, why] = get_blob(node, sha256, token_);
    if (bytes) {
      try {
        fs::path kept = store_.add(sha256, name.empty() ? "library.so" : name, *bytes);
        CSERVE_LOG(kInfo, "cluster") << "fetched library " << name << " (sha256 " << sha256.substr(0, 12) << ", "
                                     << bytes->size() << " bytes) from node " << node.id;
        return kept;
      } catch (const Error& e) {
        why = e.what();
      }
    }
    answers += (answers.empty() ? "" : "; ") + node.id + ": " + why;
  }
  throw ConfigError("node '" + self_ + "' cannot get the library " + name + " (sha256 " + sha256 +
                    "): " + (answers.empty() ? std::string("no other node to fetch it from") : answers));
}

}  // namespace cserve::detail
