// The hand-written JSON of the hot responses parses back to what was written.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "http/codec.hpp"

namespace concertd::http {
namespace {

namespace json = boost::json;

TEST(JsonWriter, EscapesWhatJsonNeedsAndPassesUtf8Through) {
  const std::string tricky = std::string("a\"b\\c\n\td") + '\x01' + "대기 15분 \x7f end";
  JsonWriter out;
  out.field("text", tricky).field("n", std::int64_t{-42}).field("big", std::int64_t{9'223'372'036'854'775'807});
  const std::string body = std::move(out).finish();
  const json::value parsed = json::parse(body);
  EXPECT_EQ(parsed.at("text").as_string(), tricky);
  EXPECT_EQ(parsed.at("n").as_int64(), -42);
  EXPECT_EQ(parsed.at("big").as_int64(), 9'223'372'036'854'775'807);
  EXPECT_NE(body.find("대기 15분"), std::string::npos);  // raw UTF-8, like boost::json::serialize
}

TEST(JsonWriter, ArraysOfObjectsAndFieldsAfterThem) {
  JsonWriter out;
  out.field("concertId", std::int64_t{7}).begin_array("seats");
  for (int i = 1; i <= 3; ++i) {
    out.item().field("number", std::int64_t{i}).field("status", "available").end_item();
  }
  out.end_array().field("after", "x").begin_array("empty").end_array();
  const json::value parsed = json::parse(std::move(out).finish());
  ASSERT_EQ(parsed.at("seats").as_array().size(), 3u);
  EXPECT_EQ(parsed.at("seats").as_array()[2].at("number").as_int64(), 3);
  EXPECT_EQ(parsed.at("after").as_string(), "x");
  EXPECT_TRUE(parsed.at("empty").as_array().empty());
  EXPECT_EQ(json::serialize(json::parse(R"({"a":[]})")), std::move(JsonWriter().begin_array("a").end_array()).finish());
}

}  // namespace
}  // namespace concertd::http
