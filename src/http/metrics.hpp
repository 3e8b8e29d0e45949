#pragma once
// Prometheus text exposition of request counts and latencies, plus the domain counters.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "ports/coordinator.hpp"

namespace concertd::http {

class Metrics {
 public:
  static constexpr std::array<double, 13> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,    0.25,  0.5,    1.0,   2.5,  5.0};

  void observe(std::string_view route, const std::string& method, int status, double seconds);
  void count_hold() { _holds.fetch_add(1, std::memory_order_relaxed); }
  void count_release() { _releases.fetch_add(1, std::memory_order_relaxed); }
  void count_payment() { _payments.fetch_add(1, std::memory_order_relaxed); }

  /// Renders everything. The line's counts are read at scrape time from the coordinator; without
  /// them (`queue` empty: it is unreachable) their series are left out and concertd_coordinator_up
  /// is 0, so that the HTTP series, which tell the outage's story, are still scraped.
  std::string render(const std::optional<QueueStats>& queue) const;

 private:
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  /// Everything about one route; found by a lookup that copies nothing (this runs per request).
  struct RouteSeries {
    Histogram latency;
    std::map<std::pair<std::string_view, int>, std::uint64_t> requests;  // (method label, status)
  };
  mutable std::mutex _mutex;
  std::map<std::string, RouteSeries, std::less<>> _routes;
  std::atomic<std::uint64_t> _holds{0};
  std::atomic<std::uint64_t> _releases{0};
  std::atomic<std::uint64_t> _payments{0};
};

}  // namespace concertd::http
