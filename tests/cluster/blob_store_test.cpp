// The content-addressed store of application libraries: files in under their SHA-256, found by
// it, and bytes from elsewhere kept only when they hash to the name they were asked for.
#include "cluster/blob_store.hpp"

#include <cserve/error.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>

namespace cserve::cluster {
namespace {

namespace fs = std::filesystem;

TEST(Sha256, MatchesTheStandardsTestVectors) {
  // FIPS 180-2's examples.
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_TRUE(is_sha256_hex(sha256_hex("x")));
  EXPECT_FALSE(is_sha256_hex("ABC"));
  EXPECT_FALSE(is_sha256_hex(std::string(64, 'g')));
}

class Blobs : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cserve-blob-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(Blobs, AFileGoesInUnderItsHashAndIsFoundByIt) {
  fs::create_directories(dir_ / "src");
  std::ofstream(dir_ / "src" / "libmodel.so") << "not really a library";
  BlobStore store(dir_ / "store");
  const std::string sha = store.add_file((dir_ / "src" / "libmodel.so").string());
  EXPECT_EQ(sha, sha256_hex("not really a library"));
  ASSERT_TRUE(store.find(sha));
  EXPECT_EQ(*store.find(sha), dir_ / "store" / sha / "libmodel.so") << "the file keeps its name";
  EXPECT_EQ(store.read(sha), "not really a library");
  EXPECT_EQ(store.add_file((dir_ / "src" / "libmodel.so").string()), sha) << "adding it again changes nothing";
  EXPECT_FALSE(store.find(sha256_hex("something else")));
  EXPECT_THROW(store.add_file((dir_ / "src" / "missing.so").string()), ConfigError);
}

TEST_F(Blobs, BytesFromElsewhereAreKeptOnlyWhenTheyHashToTheirName) {
  BlobStore store(dir_);
  const std::string sha = sha256_hex("the library");
  try {
    store.add(sha, "libx.so", "a corrupted library");
    FAIL() << "kept bytes that hash to something else";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("hash to " + sha256_hex("a corrupted library")), std::string::npos) << e.what();
  }
  EXPECT_FALSE(store.find(sha)) << "nothing is left behind";
  EXPECT_THROW(store.add(sha, "../escape.so", "the library"), Error) << "a name is a file name, not a path";
  EXPECT_EQ(store.add(sha, "libx.so", "the library"), dir_ / sha / "libx.so");
  EXPECT_EQ(store.read(sha), "the library");
}

}  // namespace
}  // namespace cserve::cluster
