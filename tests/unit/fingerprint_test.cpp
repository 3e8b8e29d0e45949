#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "domain/fingerprint.hpp"

namespace concertd {
namespace {

std::string fp(const char* text) { return body_fingerprint(boost::json::parse(text)); }

TEST(Fingerprint, KeyOrderAndSpacingDoNotMatter) {
  EXPECT_EQ(fp(R"({"amount":100000,"note":{"b":1,"a":[1,2]}})"),
            fp(R"({ "note" : {"a":[1, 2],"b":1}, "amount": 100000 })"));
  EXPECT_EQ(canonical_json(boost::json::parse(R"({"b":1,"a":2})")), R"({"a":2,"b":1})");
}

TEST(Fingerprint, DifferentValuesDiffer) {
  EXPECT_NE(fp(R"({"amount":100000})"), fp(R"({"amount":100001})"));
  EXPECT_NE(fp(R"({"amount":100000})"), fp(R"({"amount":"100000"})"));
  EXPECT_NE(fp(R"({"a":[1,2]})"), fp(R"({"a":[2,1]})"));
  EXPECT_EQ(fp(R"({"amount":100000})").size(), 64u);
}

}  // namespace
}  // namespace concertd
