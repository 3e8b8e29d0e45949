#pragma once
// Closed and open loop load for status, seats, token, holds and payments: what a scenario sends
// (`Workload`), the worker loop that sends it (closed loop, or open loop at --rate), the shards
// the workers run on and the warmup/measured window. Internal to src/bench.
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "bench/run_context.hpp"

namespace concertd::bench {

/// What one scenario sends: `issue` makes one request (or one cycle) of worker `w`.
class Workload {
 public:
  virtual ~Workload() = default;
  virtual Task<void> issue(Shard& shard, std::size_t worker, Clock::time_point started) = 0;
};

struct LoadPlan {
  Clock::time_point load_start;
  Clock::time_point load_end;
  std::optional<double> interval_s;  ///< open loop: per-worker send interval
  Clock::time_point first_send;
};

Task<void> load_worker(Shard& shard, Workload& workload, std::size_t worker, LoadPlan plan);

// ---------------------------------------------------------------------------------------------
// Runs of the closed/open loop scenarios over one or more shards.

struct LoadRun {
  std::vector<std::unique_ptr<Shard>> shards;
  std::vector<std::vector<std::size_t>> workers_of;  ///< per shard
};

LoadRun make_shards(Shared& shared, Clock::time_point start, Clock::time_point end);

/// Starts every worker on its shard and runs the shards, one thread each, to the end.
void drive(Shared& shared, LoadRun& run, Workload& workload, Clock::time_point load_start, Clock::time_point load_end);

/// The window: `warmup` of unmeasured load, then `duration` measured.
struct Window {
  Clock::time_point load_start;
  Clock::time_point measure_start;
  Clock::time_point measure_end;
};

Window window_from_now(const BenchConfig& cfg);

/// The shards' recorders merged into `out`, over the first shard's measured window.
void merge_shards(LoadRun& run, Outcome& out);

}  // namespace concertd::bench
