#include <gtest/gtest.h>

#include "adapters/redis/redis_protocol.hpp"

namespace concertd::redis {
namespace {

TEST(RedisUrl, HostPortAndDatabase) {
  const auto e = parse_url("redis://127.0.0.1:6380/7");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, "6380");
  EXPECT_EQ(e->db, 7);
}

TEST(RedisUrl, DefaultsToPort6379AndDatabase0) {
  const auto e = parse_url("redis://cache.local");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "cache.local");
  EXPECT_EQ(e->port, "6379");
  EXPECT_EQ(e->db, 0);
  EXPECT_EQ(parse_url("redis://cache.local:7000/")->db, 0);
}

TEST(RedisUrl, BracketedIpv6) {
  const auto e = parse_url("redis://[::1]:6379/2");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->db, 2);
}

TEST(RedisUrl, RejectsWhatItCannotHonour) {
  for (const char* bad : {"http://h:1", "redis://", "redis://:6379", "redis://h:0", "redis://h:70000", "redis://h:port",
                          "redis://h:1/x", "redis://h:1/-1", "redis://u:p@h:1", "redis://[::1"}) {
    EXPECT_FALSE(parse_url(bad)) << bad;
  }
}

TEST(RedisChanges, ParsesTheScriptsLines) {
  const auto active = parse_change("tok|active|1700000000000|");
  ASSERT_TRUE(active);
  EXPECT_EQ(active->token_id, "tok");
  EXPECT_EQ(active->state, TokenState::Active);
  EXPECT_EQ(active->active_until, from_millis(1700000000000));
  EXPECT_FALSE(active->spent_at);

  const auto spent = parse_change("tok|spent|1700000000000|1700000000000");
  ASSERT_TRUE(spent);
  EXPECT_EQ(spent->state, TokenState::Spent);
  EXPECT_EQ(spent->spent_at, from_millis(1700000000000));

  const auto dropped = parse_change("tok|dropped||");
  ASSERT_TRUE(dropped);
  EXPECT_EQ(dropped->state, TokenState::Dropped);
  EXPECT_FALSE(dropped->active_until);
}

TEST(RedisChanges, RejectsMalformedLines) {
  for (const char* bad : {"", "tok", "tok|active|1", "|active||", "tok|waiting||", "tok|active|1.5e12|"}) {
    EXPECT_FALSE(parse_change(bad)) << bad;
  }
}

}  // namespace
}  // namespace concertd::redis
