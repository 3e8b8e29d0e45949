#pragma once
#include <chrono>

#include "domain/time.hpp"

namespace concertd {

/// The one source of "now" for every rule; tests inject a fake.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Timestamp now() const override { return std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now()); }
};

}  // namespace concertd
