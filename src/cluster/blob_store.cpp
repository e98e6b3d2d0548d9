#include "cluster/blob_store.hpp"

#include <cserve/error.hpp>

#include <openssl/evp.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

namespace cserve::cluster {
namespace fs = std::filesystem;
namespace {

std::optional<std::string> read_whole(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(out).str();
}

}  // namespace

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    throw Error("SHA-256 failed", ErrorCode::kInternal);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

bool is_sha256_hex(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

BlobStore::BlobStore(fs::path dir) : dir_(std::move(dir)) {}

std::string BlobStore::add_file(const std::string& file) const {
  auto bytes = read_whole(file);
  if (!bytes) throw ConfigError("cannot read the library '" + file + "'");
  std::string sha = sha256_hex(*bytes);
  if (!find(sha)) add(sha, fs::path(file).filename().string(), *bytes);
  return sha;
}

fs::path BlobStore::add(const std::string& sha256, const std::string& name, std::string_view bytes) const {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos || name.front() == '.') {
    throw Error("'" + name + "' is not a library's file name", ErrorCode::kInvalidArgument);
  }
  const std::string actual = sha256_hex(bytes);
  if (actual != sha256) {
    throw Error("the bytes for blob " + sha256 + " hash to " + actual + " (corrupted or not that library)",
                ErrorCode::kInvalidArgument);
  }
  if (auto there = find(sha256)) return *there;
  const fs::path folder = dir_ / sha256;
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) throw Error("cannot create " + folder.string() + ": " + ec.message(), ErrorCode::kInternal);
  static std::atomic<unsigned> counter{0};
  const fs::path temporary =
      folder / ("." + name + ".part." + std::to_string(::getpid()) + "." + std::to_string(counter++));
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      fs::remove(temporary, ec);
      throw Error("cannot write " + temporary.string(), ErrorCode::kInternal);
    }
  }
  const fs::path target = folder / name;
  fs::rename(temporary, target, ec);  // atomic: readers see the whole file or none
  if (ec) {
    fs::remove(temporary, ec);
    throw Error("cannot store blob " + sha256 + " at " + target.string(), ErrorCode::kInternal);
  }
  return target;
}

std::optional<fs::path> BlobStore::find(const std::string& sha256) const {
  if (!is_sha256_hex(sha256)) return std::nullopt;
  std::error_code ec;
  for (fs::directory_iterator it(dir_ / sha256, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.empty() && name.front() != '.' && it->is_regular_file(ec)) return it->path();
  }
  return std::nullopt;
}

std::optional<std::string> BlobStore::read(const std::string& sha256) const {
  auto path = find(sha256);
  if (!path) return std::nullopt;
  return read_whole(*path);
}

}  // namespace cserve::cluster
