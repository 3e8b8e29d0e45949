#include "domain/queue_rules.hpp"

#include <algorithm>

namespace concertd {
namespace {

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

constexpr std::int64_t kObservedRateMinimum = 5;
constexpr int kMaxPollSeconds = 30;
/// A fan polls about this many times over their expected wait, and never less often than once
/// per place ahead: far back polls rarely, the head of the line every second, so that polls are
/// spread and nobody notices an admission late.
constexpr std::int64_t kPollsPerWait = 10;

std::int64_t poll_cap_seconds(Seconds waiting_idle_ttl) {
  return std::clamp<std::int64_t>(waiting_idle_ttl.count() / 3, 1, kMaxPollSeconds);
}

}  // namespace

WaitEstimate estimate_wait(std::int64_t position, const QueuePace& pace) {
  position = std::max<std::int64_t>(position, 0);
  std::int64_t seconds = 0;
  // Rates as admissions per `per` seconds, compared by cross-multiplying (no rounding).
  std::int64_t admissions = 0;
  std::int64_t per = 1;
  if (pace.admitted_last_minute >= kObservedRateMinimum) {
    admissions = pace.admitted_last_minute;
    per = 60;
  } else {
    admissions = std::max<std::int64_t>(pace.max_active, 1);
    per = std::max<std::int64_t>(pace.active_ttl.count(), 1);
  }
  if (pace.admit_per_minute && *pace.admit_per_minute * per < admissions * 60) {
    admissions = *pace.admit_per_minute;
    per = 60;
  }
  seconds = ceil_div(position * per, admissions);
  const std::int64_t minutes = std::max<std::int64_t>(1, ceil_div(seconds, 60));
  const std::int64_t poll_cap = poll_cap_seconds(pace.waiting_idle_ttl);
  const std::int64_t poll = std::clamp<std::int64_t>(std::min(seconds / kPollsPerWait, position), 1, poll_cap);
  return WaitEstimate{seconds, std::to_string(minutes) + "분", static_cast<int>(poll)};
}

int pre_queue_poll_seconds(Timestamp now, Timestamp opens_at, Seconds waiting_idle_ttl) {
  const std::int64_t left_ms = std::max<std::int64_t>(0, to_millis(opens_at) - to_millis(now));
  return static_cast<int>(std::clamp<std::int64_t>(ceil_div(left_ms, 2000), 1, poll_cap_seconds(waiting_idle_ttl)));
}

std::string hold_message(Seconds ttl) {
  const std::int64_t minutes = std::max<std::int64_t>(1, ttl.count() / 60);
  return std::to_string(minutes) + "분 내에 결제해주세요";
}

}  // namespace concertd
