// library_shipping.hpp — application code on every node without a shared filesystem
// (docs/cluster.md, "Application code on every node"). Libraries travel content-addressed:
//
//   ship(config)      on the node that receives a config: each application's library is copied
//                     into this node's BlobStore and its SHA-256 written into the application
//                     (`library_sha256`), so the cluster's config names code by content
//   localize(config)  on every node, before it loads a config (the leader to plan, each node to
//                     run its share): each library named by hash is taken from the BlobStore or,
//                     when missing, fetched from another node's admin API (GET
//                     /api/blobs/<sha256>, the node's admin token), verified and kept; the
//                     application's import_path then points at the local copy
//   blob(sha256)      what this node's admin API serves to the others
//
// A library no node can give (or whose bytes do not hash to its name) is a ConfigError that
// names the library, the hash and what each node answered: the node's status says it.
// Thread-safety: every member function is safe from any thread.
#pragma once

#include "cluster/blob_store.hpp"
#include "cluster/node_record.hpp"

#include <cserve/json.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace cserve::detail {

class LibraryShipping {
 public:
  // `nodes`: every node's record as last seen (where to fetch from); `token`: the admin token the
  // nodes share (empty: none).
  LibraryShipping(std::string self, std::filesystem::path dir, std::string token,
                  std::function<std::vector<cluster::NodeRecord>()> nodes);

  Json ship(Json config) const;
  Json localize(Json config) const;
  std::optional<std::string> blob(const std::string& sha256) const { return store_.read(sha256); }
  const cluster::BlobStore& store() const { return store_; }

 private:
  // The local path of blob `sha256` (named `name` when fetched). Throws ConfigError.
  std::filesystem::path fetch(const std::string& sha256, const std::string& name) const;

  const std::string self_;
  const cluster::BlobStore store_;
  const std::string token_;
  const std::function<std::vector<cluster::NodeRecord>()> nodes_;
};

// Where a node keeps its blobs: $CSERVE_BLOB_DIR/<node>, else <temp>/cserve-blobs-<uid>/<node>.
std::filesystem::path default_blob_dir(const std::string& node);

}  // namespace cserve::detail
