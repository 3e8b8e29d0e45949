#pragma once
#include <cstdint>

#include "domain/time.hpp"

namespace concertd {

/// The rules of one running service, from flags.
struct ServiceConfig {
  std::int64_t max_active = 100;
  Seconds active_ttl{600};
  Seconds waiting_idle_ttl{300};
  Seconds hold_ttl{300};
  int max_holds_per_user = 4;
};

}  // namespace concertd
