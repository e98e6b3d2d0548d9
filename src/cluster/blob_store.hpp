// blob_store.hpp — a node's content-addressed store of application libraries (docs/cluster.md,
// "Application code on every node"): each blob is a file at DIR/<sha256>/<name>, named by the
// SHA-256 of its bytes. A blob is written once — to a temporary name, then renamed into place —
// and what comes from elsewhere is kept only when its bytes hash to the name it was asked for.
//
//   BlobStore store("/tmp/cserve-blobs/node-1");
//   std::string sha = store.add_file("/opt/app/libmodel.so");   // copied in; its hash
//   store.find(sha)          // "/tmp/cserve-blobs/node-1/<sha>/libmodel.so"
//   store.add(sha, "libmodel.so", bytes)   // fetched from another node: verified, then kept
//
// Thread-safety: every member function is safe from any thread (and from other processes
// sharing the directory): files appear whole or not at all. The object is only its directory's
// path, so even the functions that add files are const.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace cserve::cluster {

// The SHA-256 of `bytes`, as 64 lowercase hex digits.
std::string sha256_hex(std::string_view bytes);
// Whether `s` is 64 lowercase hex digits.
bool is_sha256_hex(std::string_view s);

class BlobStore {
 public:
  explicit BlobStore(std::filesystem::path dir);

  // Copies `file` in (unless its content is there already) under its file name; its SHA-256.
  // Throws ConfigError naming the file when it cannot be read.
  std::string add_file(const std::string& file) const;
  // Keeps `bytes` as blob `sha256` named `name`. Throws cserve::Error (kInvalidArgument) when they
  // hash to something else, or a name that is not a plain file name.
  std::filesystem::path add(const std::string& sha256, const std::string& name, std::string_view bytes) const;
  // Where blob `sha256` is, when it is here.
  std::optional<std::filesystem::path> find(const std::string& sha256) const;
  // Its bytes, when it is here.
  std::optional<std::string> read(const std::string& sha256) const;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  const std::filesystem::path dir_;
};

}  // namespace cserve::cluster
