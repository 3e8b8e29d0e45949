#pragma once
#include <cstdint>

#include "domain/time.hpp"
#include "ports/coordinator.hpp"

namespace concertd {

/// The rules of one running service, read from flags straight into this struct.
struct ServiceConfig {
  /// The waiting room's starting maxActive (RoomSettings; the stored setting wins unless the
  /// flag is given).
  std::int64_t max_active = 100;
  Seconds active_ttl{600};
  Seconds waiting_idle_ttl{300};
  Seconds hold_ttl{300};
  int max_holds_per_user = 4;

  /// What the coordinator enforces of them: derived here, once.
  QueueLimits queue_limits() const {
    // A spent token still serves its user for a hold's length: the holds it took can be paid.
    return QueueLimits{max_active, active_ttl, waiting_idle_ttl, hold_ttl};
  }
};

}  // namespace concertd
