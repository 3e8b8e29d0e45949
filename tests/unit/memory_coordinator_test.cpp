#include <gtest/gtest.h>

#include "adapters/memory/memory_coordinator.hpp"
#include "test_support.hpp"

namespace concertd {
namespace {

using testing::FakeClock;

class QueueTest : public ::testing::Test {
 protected:
  QueueTest() : queue(QueueLimits{2, Seconds{600}, Seconds{30}, Seconds{300}}, clock) {}

  IssueResult issue(const std::string& user) {
    TokenRecord candidate;
    candidate.id = "tok-" + user;
    candidate.user_id = user;
    candidate.issued_at = clock.now();
    return queue.issue_now(candidate, clock.now());
  }
  std::optional<TokenView> find(const std::string& user, bool poll = true) {
    return queue.find_now("tok-" + user, clock.now(), poll);
  }

  FakeClock clock;
  MemoryCoordinator queue;
};

TEST(SequenceCounter, CountsUpToASequenceNumber) {
  SequenceCounter c;
  c.reset(10);
  for (int seq = 10; seq < 30; ++seq) {
    c.add(seq, 1);
  }
  c.add(12, -1);
  EXPECT_EQ(c.count_up_to(9), 0);
  EXPECT_EQ(c.count_up_to(10), 1);
  EXPECT_EQ(c.count_up_to(12), 2);
  EXPECT_EQ(c.count_up_to(29), 19);
  EXPECT_EQ(c.count_up_to(1000), 19);
}

TEST_F(QueueTest, ActiveAtOnceWhileSlotsAreFreeThenFifoPositions) {
  EXPECT_EQ(issue("a").token.state, TokenState::Active);
  EXPECT_EQ(issue("b").token.state, TokenState::Active);
  const auto c = issue("c");
  const auto d = issue("d");
  EXPECT_EQ(c.token.state, TokenState::Waiting);
  EXPECT_EQ(c.token.position, 1);
  EXPECT_EQ(d.token.position, 2);
  EXPECT_LT(c.token.seq, d.token.seq);
}

TEST_F(QueueTest, AskingAgainReturnsTheSameTokenAndPlace) {
  issue("a");
  issue("b");
  issue("c");
  const auto again = issue("c");
  EXPECT_FALSE(again.created);
  EXPECT_EQ(again.token.id, "tok-c");
  EXPECT_EQ(again.token.position, 1);
}

TEST_F(QueueTest, SpendingFreesASlotForTheHeadOfTheLine) {
  issue("a");
  issue("b");
  issue("c");
  issue("d");
  queue.spend_now("tok-a", clock.now());
  const auto changes = queue.tick_now(clock.now());
  ASSERT_EQ(changes.changes.size(), 1u);
  EXPECT_EQ(changes.changes[0].token_id, "tok-c");
  EXPECT_EQ(find("c")->state, TokenState::Active);
  EXPECT_EQ(find("d")->position, 1);
  EXPECT_EQ(queue.stats_now(clock.now()).active, 2);
}

TEST_F(QueueTest, ActiveTokenIsSpentAtActiveUntilAndKeepsGraceForHoldTtl) {
  issue("a");
  clock.advance(Seconds{600});
  const auto view = find("a");
  ASSERT_TRUE(view);
  EXPECT_EQ(view->state, TokenState::Spent);
  EXPECT_EQ(queue.stats_now(clock.now()).active, 0);
  clock.advance(Seconds{299});
  EXPECT_TRUE(find("a"));
  clock.advance(Seconds{1});
  EXPECT_FALSE(find("a"));
}

TEST_F(QueueTest, WaitingTokenWithoutPollsIsDroppedAndStopsCounting) {
  issue("a");
  issue("b");
  issue("c");
  issue("d");
  issue("e");
  clock.advance(Seconds{20});
  find("d");  // d polls, c and e do not
  clock.advance(Seconds{10});
  const auto changes = queue.tick_now(clock.now());
  EXPECT_EQ(changes.changes.size(), 2u);
  EXPECT_FALSE(find("c"));
  EXPECT_FALSE(find("e"));
  EXPECT_EQ(find("d")->position, 1);
  EXPECT_EQ(queue.stats_now(clock.now()).waiting, 1);
}

TEST_F(QueueTest, PositionNeverGrowsForAPollingToken) {
  for (const char* u : {"a", "b", "c", "d", "e", "f"}) {
    issue(u);
  }
  std::int64_t last = find("f")->position;
  for (const char* u : {"a", "b", "c", "d"}) {
    queue.spend_now(std::string("tok-") + u, clock.now());
    queue.tick_now(clock.now());
    issue(std::string("late-") + u);
    const auto now_at = find("f");
    ASSERT_TRUE(now_at);
    if (now_at->state == TokenState::Waiting) {
      EXPECT_LE(now_at->position, last);
      last = now_at->position;
    }
  }
}

TEST_F(QueueTest, AdmissionsOfTheLastMinuteAreCounted) {
  issue("a");
  issue("b");
  EXPECT_EQ(queue.stats_now(clock.now()).admitted_last_minute, 2);
  clock.advance(Seconds{60});
  EXPECT_EQ(queue.stats_now(clock.now()).admitted_last_minute, 0);
}

TEST_F(QueueTest, RestoreRebuildsTheLineInIssueOrder) {
  std::vector<TokenRecord> stored = {
      {"t1", "u1", 5, TokenState::Active, clock.now(), clock.now() + Seconds{100}, std::nullopt},
      {"t3", "u3", 9, TokenState::Waiting, clock.now(), std::nullopt, std::nullopt},
      {"t2", "u2", 7, TokenState::Waiting, clock.now(), std::nullopt, std::nullopt},
      {"t0", "u0", 3, TokenState::Spent, clock.now(), clock.now(), clock.now()},
  };
  queue.restore_now(stored, clock.now());
  EXPECT_EQ(queue.find_now("t2", clock.now(), true)->position, 1);
  EXPECT_EQ(queue.find_now("t3", clock.now(), true)->position, 2);
  EXPECT_EQ(queue.find_now("t0", clock.now(), false)->state, TokenState::Spent);
  // One slot is free (max 2, one active): the tick admits the head.
  queue.tick_now(clock.now());
  EXPECT_EQ(queue.find_now("t2", clock.now(), true)->state, TokenState::Active);
  // A new token goes behind every restored one.
  TokenRecord fresh{"t4", "u4", 0, TokenState::Waiting, clock.now(), std::nullopt, std::nullopt};
  const auto issued = queue.issue_now(fresh, clock.now());
  EXPECT_GT(issued.token.seq, 9);
  EXPECT_EQ(issued.token.position, 2);
}

}  // namespace
}  // namespace concertd
