#include "api/request_id.hpp"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <thread>

namespace cserve {
namespace {

TEST(RequestId, UniqueAcrossThreads) {
  std::vector<std::vector<std::string>> per_thread(4);
  std::vector<std::thread> threads;
  for (auto& ids : per_thread) {
    threads.emplace_back([&ids] {
      for (int i = 0; i < 1000; ++i) ids.push_back(make_request_id());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (auto& ids : per_thread) all.insert(ids.begin(), ids.end());
  EXPECT_EQ(all.size(), 4000u);
  EXPECT_TRUE(is_acceptable_request_id(*all.begin()));
  for (const auto& id : all) {
    ASSERT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{16}-[0-9a-f]{8,16}"))) << id;
  }
}

TEST(RequestId, ClientIdsAreCheckedBeforeEcho) {
  EXPECT_TRUE(is_acceptable_request_id("abc-123"));
  EXPECT_FALSE(is_acceptable_request_id(""));
  EXPECT_FALSE(is_acceptable_request_id("has space"));
  EXPECT_FALSE(is_acceptable_request_id("line\r\nbreak"));
  EXPECT_FALSE(is_acceptable_request_id(std::string(129, 'a')));
}

}  // namespace
}  // namespace cserve
