#include <gtest/gtest.h>

#include "bench/invariants.hpp"

namespace concertd::bench {
namespace {

SeatMapFact map_of(std::int64_t concert, std::int64_t seats, std::int64_t reserved, std::int64_t price = 50'000) {
  SeatMapFact m;
  m.concert_id = concert;
  m.exclusive = true;
  m.reserved = reserved;
  for (std::int64_t s = 1; s <= seats; ++s) {
    m.price_by_seat[s] = price;
  }
  return m;
}

QueueObservation waiting(std::int64_t sent_ms, std::int64_t position) {
  return QueueObservation{sent_ms * 1000, sent_ms * 1000 + 500, false, position};
}

QueueObservation active(std::int64_t sent_ms) {
  return QueueObservation{sent_ms * 1000, sent_ms * 1000 + 500, true, 0};
}

TokenFact fan(std::string user, std::int64_t issued_ms, std::vector<QueueObservation> obs) {
  TokenFact t;
  t.user_id = std::move(user);
  t.issue_sent_us = issued_ms * 1000;
  t.issue_received_us = issued_ms * 1000 + 200;
  t.observations = std::move(obs);
  return t;
}

/// A clean run: 3 seats sold to 3 fans admitted in issue order, money adding up.
struct CleanRun {
  std::vector<PaymentFact> payments{{"a", 1, 1, 50'000}, {"b", 1, 2, 50'000}, {"c", 1, 3, 50'000}};
  std::vector<SeatMapFact> maps{map_of(1, 10, 3)};
  std::vector<BalanceFact> balances{{"a", 50'000, 50'000, 0}, {"b", 100'000, 50'000, 50'000}, {"c", 50'000, 50'000, 0}};
  std::vector<TokenFact> tokens{
      fan("a", 0, {waiting(0, 1), active(1000)}),
      fan("b", 10, {waiting(10, 2), waiting(1000, 1), active(2000)}),
      fan("c", 20, {waiting(20, 3), waiting(1000, 2), waiting(2000, 1), active(3000)}),
  };

  InvariantReport check() const {
    InvariantReport r;
    check_seats(payments, maps, r);
    check_money(balances, r);
    check_fifo(tokens, r);
    return r;
  }
};

bool has(const InvariantReport& r, const std::string& invariant) {
  for (const auto& v : r.violations) {
    if (v.invariant == invariant) {
      return true;
    }
  }
  return false;
}

TEST(BenchInvariants, CleanRunPasses) {
  const auto r = CleanRun{}.check();
  EXPECT_TRUE(r.ok()) << (r.violations.empty() ? "" : r.violations[0].detail);
  EXPECT_GT(r.checks, 10);
}

TEST(BenchInvariants, CatchesASeatSoldTwice) {
  CleanRun run;
  run.payments[2].seat_number = 2;
  const auto r = run.check();
  ASSERT_TRUE(has(r, "seat_sold_twice"));
  EXPECT_NE(r.violations[0].detail.find("seat 2"), std::string::npos);
}

TEST(BenchInvariants, CatchesReservedSeatsWithoutPayment) {
  CleanRun run;
  run.maps[0].reserved = 4;
  EXPECT_TRUE(has(run.check(), "reserved_count"));
  run.maps[0].exclusive = false;  // a concert others used: not comparable
  EXPECT_TRUE(run.check().ok());
}

TEST(BenchInvariants, CatchesAPaymentOfTheWrongPrice) {
  CleanRun run;
  run.maps[0].price_by_seat[3] = 70'000;
  EXPECT_TRUE(has(run.check(), "price"));
}

TEST(BenchInvariants, CatchesABalanceMismatch) {
  CleanRun run;
  run.balances[1].final_balance = 100'000;
  const auto r = run.check();
  ASSERT_EQ(r.violations.size(), 1u);
  EXPECT_EQ(r.violations[0].invariant, "balance");
  EXPECT_NE(r.violations[0].detail.find("b:"), std::string::npos);
}

TEST(BenchInvariants, CatchesANegativeBalance) {
  CleanRun run;
  run.balances[0] = BalanceFact{"a", 50'000, 100'000, -50'000};  // adds up, yet below zero
  const auto r = run.check();
  ASSERT_EQ(r.violations.size(), 1u);
  EXPECT_NE(r.violations[0].detail.find("negative"), std::string::npos);
}

TEST(BenchInvariants, CatchesAFifoViolation) {
  CleanRun run;
  // c (issued after a was answered) is active at 1000 ms, while a still waits in a poll sent at 1500 ms.
  run.tokens[0] = fan("a", 0, {waiting(0, 1), waiting(1500, 1), active(2500)});
  run.tokens[2] = fan("c", 20, {waiting(20, 3), active(1000)});
  const auto r = run.check();
  ASSERT_TRUE(has(r, "fifo"));
  EXPECT_NE(r.violations[0].detail.find("a (issued"), std::string::npos);
}

TEST(BenchInvariants, FifoIgnoresPollsSentBeforeTheLaterFanWasActiveAndDroppedFans) {
  CleanRun run;
  // a's poll was sent at 900 ms, before c was seen active at 1000 ms: its answer may say waiting.
  run.tokens[0] = fan("a", 0, {waiting(0, 1), waiting(900, 1), active(1100)});
  run.tokens[2] = fan("c", 20, {waiting(20, 3), active(1000)});
  EXPECT_FALSE(has(run.check(), "fifo"));
  // A fan whose token was dropped is not held to FIFO.
  run.tokens[0] = fan("a", 0, {waiting(0, 1), waiting(1500, 1)});
  run.tokens[0].dropped = true;
  EXPECT_FALSE(has(run.check(), "fifo"));
}

TEST(BenchInvariants, FifoNeedsStrictlyEarlierIssue) {
  CleanRun run;
  // b asked for its token before a's answer arrived: they raced, no order between them.
  run.tokens[0] = fan("a", 0, {waiting(0, 1), waiting(1500, 1), active(2500)});
  run.tokens[1] = fan("b", 0, {waiting(0, 2), active(1000)});
  run.tokens[1].issue_sent_us = 100;
  EXPECT_FALSE(has(run.check(), "fifo"));
}

TEST(BenchInvariants, CatchesAGrowingPosition) {
  CleanRun run;
  run.tokens[2] = fan("c", 20, {waiting(20, 3), waiting(1000, 4), active(3000)});
  const auto r = run.check();
  ASSERT_TRUE(has(r, "position"));
  EXPECT_NE(r.violations[0].detail.find("from 3 to 4"), std::string::npos);
}

}  // namespace
}  // namespace concertd::bench
