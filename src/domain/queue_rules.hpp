#pragma once
// The waiting line's arithmetic: wait estimate and polling interval (API.md, "GET /api/queue/status").
#include <cstdint>
#include <optional>
#include <string>

#include "domain/time.hpp"

namespace concertd {

struct QueuePace {
  std::int64_t admitted_last_minute = 0;  // tokens that became active in the last 60 s
  std::int64_t max_active = 1;
  Seconds active_ttl{600};
  Seconds waiting_idle_ttl{300};
  std::optional<std::int64_t> admit_per_minute;  // the outflow cap, when set
};

struct WaitEstimate {
  std::int64_t seconds = 0;  // estimatedWaitSeconds
  std::string text;          // estimatedWaitTime, whole minutes rounded up, at least "1분"
  int poll_after_seconds = 1;
};

/// ETA = ceil(position / r): r is the observed admission rate when at least 5 were seen in the
/// last minute, else the steady-state rate max_active / active_ttl; the outflow cap when it is
/// lower.
WaitEstimate estimate_wait(std::int64_t position, const QueuePace& pace);

/// pollAfterSeconds in the pre-queue: half the time left to the opening, from 1 s up to the same
/// cap as in the line, so that fans come back about when it opens without polling all along.
int pre_queue_poll_seconds(Timestamp now, Timestamp opens_at, Seconds waiting_idle_ttl);

/// "N분 내에 결제해주세요" for a hold of `ttl` (whole minutes, at least 1).
std::string hold_message(Seconds ttl);

}  // namespace concertd
