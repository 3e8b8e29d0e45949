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

}  // namespace

WaitEstimate estimate_wait(std::int64_t position, const QueuePace& pace) {
  position = std::max<std::int64_t>(position, 0);
  std::int64_t seconds = 0;
  if (pace.admitted_last_minute >= kObservedRateMinimum) {
    seconds = ceil_div(position * 60, pace.admitted_last_minute);
  } else {
    seconds = ceil_div(position * pace.active_ttl.count(), std::max<std::int64_t>(pace.max_active, 1));
  }
  const std::int64_t minutes = std::max<std::int64_t>(1, ceil_div(seconds, 60));
  const std::int64_t poll_cap =
      std::clamp<std::int64_t>(pace.waiting_idle_ttl.count() / 3, 1, kMaxPollSeconds);
  const std::int64_t poll = std::clamp<std::int64_t>(std::min(seconds / kPollsPerWait, position), 1, poll_cap);
  return WaitEstimate{seconds, std::to_string(minutes) + "분", static_cast<int>(poll)};
}

std::string hold_message(Seconds ttl) {
  const std::int64_t minutes = std::max<std::int64_t>(1, ttl.count() / 60);
  return std::to_string(minutes) + "분 내에 결제해주세요";
}

}  // namespace concertd
