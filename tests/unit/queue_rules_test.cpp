#include <gtest/gtest.h>

#include "domain/queue_rules.hpp"

namespace concertd {
namespace {

QueuePace pace(std::int64_t admitted, std::int64_t max_active = 100, int active_ttl = 600, int idle_ttl = 300) {
  return QueuePace{admitted, max_active, Seconds{active_ttl}, Seconds{idle_ttl}, std::nullopt};
}

TEST(WaitEstimate, UsesSteadyStateRateWhenFewAdmissionsWereSeen) {
  // r = 100 / 600 per second: position 150 waits ceil(150 * 6) = 900 s = 15 min.
  const auto w = estimate_wait(150, pace(4));
  EXPECT_EQ(w.seconds, 900);
  EXPECT_EQ(w.text, "15분");
}

TEST(WaitEstimate, UsesObservedRateFromFiveAdmissions) {
  // 10 admissions in the last minute: r = 1/6 per second; position 120 waits 720 s.
  const auto w = estimate_wait(120, pace(10));
  EXPECT_EQ(w.seconds, 720);
  EXPECT_EQ(w.text, "12분");
  EXPECT_EQ(estimate_wait(7, pace(5)).seconds, 84);  // ceil(7 * 60 / 5)
}

TEST(WaitEstimate, UsesTheOutflowCapWhenItIsLowerThanTheRate) {
  QueuePace capped = pace(600);  // 10 a second observed
  capped.admit_per_minute = 60;  // but the operator lets in one a second
  EXPECT_EQ(estimate_wait(120, capped).seconds, 120);
  EXPECT_EQ(estimate_wait(120, capped).poll_after_seconds, 12);  // the poll interval follows
  capped.admit_per_minute = 6000;                                // a cap above the rate changes nothing
  EXPECT_EQ(estimate_wait(120, capped).seconds, 12);
  QueuePace steady = pace(0);  // steady state 100 / 600 s, capped at 6 a minute
  steady.admit_per_minute = 6;
  EXPECT_EQ(estimate_wait(3, steady).seconds, 30);
}

TEST(PreQueuePoll, HalfTheTimeLeftWithinTheLinesBounds) {
  const Timestamp now = from_millis(1'000'000);
  EXPECT_EQ(pre_queue_poll_seconds(now, now + Seconds{10}, Seconds{300}), 5);
  EXPECT_EQ(pre_queue_poll_seconds(now, now + Seconds{3600}, Seconds{300}), 30);
  EXPECT_EQ(pre_queue_poll_seconds(now, now + Seconds{3600}, Seconds{30}), 10);  // a third of the idle ttl
  EXPECT_EQ(pre_queue_poll_seconds(now, now - Seconds{1}, Seconds{300}), 1);     // opening under way
}

TEST(WaitEstimate, RoundsUpAndIsAtLeastOneMinute) {
  EXPECT_EQ(estimate_wait(1, pace(60)).seconds, 1);
  EXPECT_EQ(estimate_wait(1, pace(60)).text, "1분");
  EXPECT_EQ(estimate_wait(61, pace(60)).text, "2분");     // 61 s
  EXPECT_EQ(estimate_wait(7, pace(0, 3, 1)).seconds, 3);  // ceil(7 * 1 / 3)
}

TEST(PollAfter, GrowsWithTheWaitAndStaysWithinBounds) {
  EXPECT_EQ(estimate_wait(1, pace(60)).poll_after_seconds, 1);
  const int near = estimate_wait(100, pace(60)).poll_after_seconds;
  const int far = estimate_wait(10'000, pace(60)).poll_after_seconds;
  EXPECT_LT(near, far);
  EXPECT_EQ(far, 30);
  EXPECT_EQ(estimate_wait(10'000, pace(60, 100, 600, 30)).poll_after_seconds, 10);  // a third of the idle ttl
  EXPECT_EQ(estimate_wait(10'000, pace(60, 100, 600, 2)).poll_after_seconds, 1);
}

TEST(PollAfter, HeadOfALongWaitStillPollsOften) {
  // Steady-state estimate of 600 s for the first in line: it must not poll only every 30 s.
  EXPECT_EQ(estimate_wait(1, pace(0)).poll_after_seconds, 1);
  EXPECT_EQ(estimate_wait(3, pace(0, 10)).poll_after_seconds, 3);  // 180 s ahead, 3 places
}

TEST(HoldMessage, WholeMinutesAtLeastOne) {
  EXPECT_EQ(hold_message(Seconds{300}), "5분 내에 결제해주세요");
  EXPECT_EQ(hold_message(Seconds{30}), "1분 내에 결제해주세요");
  EXPECT_EQ(hold_message(Seconds{90}), "1분 내에 결제해주세요");
}

}  // namespace
}  // namespace concertd
