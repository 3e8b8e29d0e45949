#include <gtest/gtest.h>

#include "domain/assert.hpp"
#include "domain/errors.hpp"
#include "http/limits.hpp"
#include "http/router.hpp"

namespace concertd::http {
namespace {

Timestamp at(std::int64_t ms) { return from_millis(1'780'000'000'000 + ms); }

TEST(RateLimiter, AllowsTheRateThenRefillsOverTime) {
  RateLimiter limiter(2);
  std::int64_t retry = 0;
  EXPECT_TRUE(limiter.allow("a", at(0), retry));
  EXPECT_TRUE(limiter.allow("a", at(0), retry));
  EXPECT_FALSE(limiter.allow("a", at(0), retry));
  EXPECT_EQ(retry, 1);
  EXPECT_TRUE(limiter.allow("b", at(0), retry));  // another address has its own bucket
  EXPECT_FALSE(limiter.allow("a", at(400), retry));
  EXPECT_TRUE(limiter.allow("a", at(500), retry));  // half a second refills one of two
}

TEST(Edge, ForwardedForCountsOnlyBehindTrustedProxies) {
  Edge edge(EdgeConfig{std::nullopt, 0, {"10.0.0.1", "10.0.0.2"}});
  Request r;
  r.peer_address = "192.0.2.5";
  r.forwarded_for = "198.51.100.1";
  EXPECT_EQ(edge.client_address(r), "192.0.2.5");  // untrusted peer: its header is ignored
  r.peer_address = "10.0.0.1";
  EXPECT_EQ(edge.client_address(r), "198.51.100.1");
  r.forwarded_for = "6.6.6.6, 198.51.100.1, 10.0.0.2";  // spoofed left part, our second proxy
  EXPECT_EQ(edge.client_address(r), "198.51.100.1");
  r.forwarded_for = "10.0.0.2";
  EXPECT_EQ(edge.client_address(r), "10.0.0.1");
}

TEST(Edge, UserAuthAcceptsOnlyAValidUnexpiredSignature) {
  Edge edge(EdgeConfig{std::string("s3cret"), 0, {}});
  const std::int64_t expiry = to_millis(at(0)) / 1000 + 60;
  Request r;
  r.user_auth = sign_user_auth("s3cret", "user.name@x", expiry);
  EXPECT_EQ(edge.authenticated_user(r, at(0)), "user.name@x");
  auto rejects = [&](const std::string& header, Timestamp now) {
    Request bad;
    bad.user_auth = header;
    try {
      edge.authenticated_user(bad, now);
    } catch (const ClientError& e) {
      return e.code() == ErrorCode::UserAuthRequired;
    }
    return false;
  };
  EXPECT_TRUE(rejects(sign_user_auth("other", "user.name@x", expiry), at(0)));
  EXPECT_TRUE(rejects(*r.user_auth, at(60'000)));  // expired
  EXPECT_TRUE(rejects("no-dots", at(0)));
  EXPECT_TRUE(rejects("u.notanumber.abcd", at(0)));
  EXPECT_TRUE(rejects(sign_user_auth("s3cret", "bad user", expiry), at(0)));
  Edge without(EdgeConfig{});
  EXPECT_EQ(without.authenticated_user(Request{}, at(0)), std::nullopt);
}

}  // namespace
}  // namespace concertd::http

namespace concertd::http {
namespace {

Task<Response> no_handler(Request&) { co_return Response{}; }

TEST(RouterDeathTest, ASecondHandlerForOneMethodAndPathStopsTheStart) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // the suite's other tests leave threads behind
  Router router;
  router.add("GET", "/api/concerts/{id}", no_handler);
  router.add("POST", "/api/concerts/{id}", no_handler);  // another method: fine
  router.add("GET", "/api/concerts/{id}/seats", no_handler);
  EXPECT_DEATH(router.add("GET", "/api/concerts/{concertId}", no_handler), "one handler per method and path");
  EXPECT_DEATH(router.add("GET", "no-slash", no_handler), "starts with '/'");
}

TEST(AssertDeathTest, ABrokenInvariantAbortsInEveryBuildAndSaysWhere) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const int seats_sold = 2;
  EXPECT_DEATH(CONCERTD_ASSERT(seats_sold <= 1, "a seat is sold once"),
               "assertion failed at .*edge_test.cpp:[0-9]+: a seat is sold once \\(seats_sold <= 1\\)");
  CONCERTD_ASSERT(seats_sold == 2, "holds");  // a true one costs nothing
}

}  // namespace
}  // namespace concertd::http
