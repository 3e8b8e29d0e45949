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

TEST_F(QueueTest, IdleDropHappensAtTheFirstTickAfterTheLastPollPlusTheIdleTtl) {
  issue("a");
  issue("b");
  issue("c");
  issue("d");
  clock.advance(Seconds{20});
  find("c");
  clock.advance(Seconds{10});
  EXPECT_FALSE(find("d", false));  // settled lazily at once, before any tick
  EXPECT_EQ(queue.tick_now(clock.now()).changes.size(), 1u);
  clock.advance(Seconds{20} - Millis{1});
  EXPECT_TRUE(queue.tick_now(clock.now()).empty());
  EXPECT_EQ(find("c", false)->position, 1);
  clock.advance(Millis{1});
  const auto changes = queue.tick_now(clock.now());
  ASSERT_EQ(changes.changes.size(), 1u);
  EXPECT_EQ(changes.changes[0].token_id, "tok-c");
  EXPECT_EQ(changes.changes[0].state, TokenState::Dropped);
  EXPECT_EQ(queue.stats_now(clock.now()).waiting, 0);
}

TEST_F(QueueTest, TokensIssuedWithinOneIdleBucketAreDroppedEachAtItsOwnMillisecond) {
  issue("a");
  issue("b");
  clock.advance(Millis{10});
  issue("c");
  clock.advance(Millis{50});
  issue("d");
  clock.advance(Seconds{30} - Millis{50});  // c's last poll is 30 s old, d's 29.95 s
  const auto first = queue.tick_now(clock.now());
  ASSERT_EQ(first.changes.size(), 1u);
  EXPECT_EQ(first.changes[0].token_id, "tok-c");
  EXPECT_EQ(find("d", false)->position, 1);
  clock.advance(Millis{49});
  EXPECT_TRUE(queue.tick_now(clock.now()).empty());
  clock.advance(Millis{1});
  const auto second = queue.tick_now(clock.now());
  ASSERT_EQ(second.changes.size(), 1u);
  EXPECT_EQ(second.changes[0].token_id, "tok-d");
  EXPECT_EQ(queue.footprint_now().scheduled, 2u);  // the active deadlines of a and b
}

TEST_F(QueueTest, AUserGetsANewTokenAfterTheOldOneIsDroppedOrSpent) {
  issue("a");
  issue("b");
  const auto first = issue("c");
  clock.advance(Seconds{30});
  queue.tick_now(clock.now());
  EXPECT_FALSE(find("c"));
  const auto again = issue("c");
  EXPECT_TRUE(again.created);
  EXPECT_GT(again.token.seq, first.token.seq);
  EXPECT_EQ(again.token.position, 1);

  queue.spend_now("tok-a", clock.now());
  TokenRecord candidate{"tok-a2", "a", 0, TokenState::Waiting, clock.now(), std::nullopt, std::nullopt};
  const auto reissued = queue.issue_now(candidate, clock.now());
  EXPECT_TRUE(reissued.created);
  EXPECT_EQ(reissued.token.position, 2);
  EXPECT_EQ(find("a")->state, TokenState::Spent);  // the spent token keeps its grace
  queue.tick_now(clock.now());
  EXPECT_EQ(find("c")->state, TokenState::Active);
  EXPECT_EQ(queue.find_now("tok-a2", clock.now(), true)->position, 1);
}

TEST_F(QueueTest, RestoreWithGapsOutOfOrderAndLongIds) {
  const std::string long_id(256, 'x');
  const std::string long_user(64, 'u');
  std::vector<TokenRecord> stored = {
      {"t1000", "u1000", 1000, TokenState::Waiting, clock.now(), std::nullopt, std::nullopt},
      {"t500", "u500", 500, TokenState::Active, clock.now(), clock.now() + Seconds{100}, std::nullopt},
      {long_id, long_user, 10, TokenState::Waiting, clock.now(), std::nullopt, std::nullopt},
      {"t3", "u3", 3, TokenState::Spent, clock.now(), clock.now(), clock.now()},
      {"t3", "u3", 3, TokenState::Spent, clock.now(), clock.now(), clock.now()},  // stored twice
  };
  queue.restore_now(stored, clock.now());
  EXPECT_EQ(queue.footprint_now().slots, 998u);  // seqs 3 to 1000
  const auto head = queue.find_now(long_id, clock.now(), true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->user_id, long_user);
  EXPECT_EQ(head->seq, 10);
  EXPECT_EQ(head->position, 1);
  EXPECT_EQ(queue.find_now("t1000", clock.now(), true)->position, 2);
  TokenRecord fresh{"t1001", "u1001", 0, TokenState::Waiting, clock.now(), std::nullopt, std::nullopt};
  EXPECT_EQ(queue.issue_now(fresh, clock.now()).token.seq, 1001);
  EXPECT_EQ(
      queue
          .issue_now({"other", long_user, 0, TokenState::Waiting, clock.now(), std::nullopt, std::nullopt}, clock.now())
          .token.id,
      long_id);

  queue.tick_now(clock.now());  // one free slot: the head goes in
  EXPECT_EQ(queue.find_now(long_id, clock.now(), true)->state, TokenState::Active);
  clock.advance(Seconds{300});
  queue.tick_now(clock.now());  // t500 is spent, t3's grace ends, t1000 and t1001 idle out
  EXPECT_FALSE(queue.find_now("t3", clock.now(), false));
  EXPECT_FALSE(queue.find_now("t1000", clock.now(), false));
  EXPECT_EQ(queue.find_now("t500", clock.now(), false)->state, TokenState::Spent);
  EXPECT_EQ(queue.footprint_now().slots, 491u);  // seqs 10 to 500: both ends trimmed
}

TEST(QueueMemory, AHundredThousandTokensAdmittedOrDroppedLeaveNothingBehind) {
  testing::FakeClock clock;
  MemoryCoordinator queue(QueueLimits{1000, Seconds{600}, Seconds{30}, Seconds{300}}, clock);
  constexpr int kTokens = 100'000;
  std::vector<std::string> active;
  for (int i = 0; i < kTokens; ++i) {
    TokenRecord candidate{"token-" + std::to_string(i),
                          "user-" + std::to_string(i),
                          0,
                          TokenState::Waiting,
                          clock.now(),
                          std::nullopt,
                          std::nullopt};
    const auto issued = queue.issue_now(candidate, clock.now());
    ASSERT_EQ(issued.token.seq, i + 1);
    if (issued.token.state == TokenState::Active) {
      active.push_back(issued.token.id);
    } else {
      ASSERT_EQ(issued.token.position, i - 999);
    }
  }
  clock.advance(Seconds{20});
  for (int i = 0; i < kTokens; i += 2) {
    queue.find_now("token-" + std::to_string(i), clock.now(), true);
  }
  clock.advance(Seconds{10});
  EXPECT_EQ(queue.tick_now(clock.now()).changes.size(), static_cast<std::size_t>(kTokens - 1000) / 2);
  EXPECT_EQ(queue.stats_now(clock.now()).waiting, (kTokens - 1000) / 2);
  EXPECT_EQ(queue.find_now("token-50000", clock.now(), true)->position, (50'000 - 1000) / 2 + 1);

  /// Bounded: every round admits 1000 waiting tokens.
  for (int round = 0; round < kTokens / 1000 && !active.empty(); ++round) {
    for (const auto& id : active) {
      queue.spend_now(id, clock.now());
    }
    active.clear();
    clock.advance(Seconds{1});
    for (const auto& change : queue.tick_now(clock.now()).changes) {
      if (change.state == TokenState::Active) {
        active.push_back(change.token_id);
      }
    }
    if (round == 10) {
      // The spent tokens of the first rounds are still in their grace: the front stays.
      EXPECT_EQ(queue.footprint_now().slots, static_cast<std::size_t>(kTokens - 1));
    }
  }
  EXPECT_EQ(queue.stats_now(clock.now()).waiting, 0);
  EXPECT_EQ(queue.stats_now(clock.now()).active, 0);
  clock.advance(Seconds{600});  // past every grace end and every active deadline
  queue.tick_now(clock.now());
  const auto left = queue.footprint_now();
  EXPECT_EQ(left.slots, 0u);
  EXPECT_EQ(left.index_cells, 0u);
  EXPECT_EQ(left.scheduled, 0u);
  EXPECT_FALSE(queue.find_now("token-0", clock.now(), false));

  // The line starts again after the forgotten tokens.
  TokenRecord next{"next", "user-0", 0, TokenState::Waiting, clock.now(), std::nullopt, std::nullopt};
  EXPECT_EQ(queue.issue_now(next, clock.now()).token.seq, kTokens + 1);
  EXPECT_EQ(queue.footprint_now().slots, 1u);
}

}  // namespace
}  // namespace concertd
