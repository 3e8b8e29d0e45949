#pragma once
// The scenarios of `concertd bench` and what they are run with (filled by the CLI in
// src/app/bench_command.cpp).
#include <cstdint>
#include <optional>
#include <string>

namespace concertd::bench {

struct BenchConfig {
  std::string scenario;
  std::string url = "http://127.0.0.1:8080";
  std::string admin_key;
  std::int64_t concurrency = 64;
  double duration_s = 10;
  std::optional<double> rate;
  double warmup_s = 1;
  std::optional<std::int64_t> concert;
  std::optional<std::int64_t> seat_count;
  std::optional<std::int64_t> fans;
  double arrival_s = 5;
  double poll_scale = 1.0;
  std::string json_path;
  std::string html_path;
  bool progress = true;
  std::int64_t threads = 1;
  std::int64_t timeout_ms = 10'000;
};

/// Runs one scenario to the end and prints its table. Returns the exit code: 0, or 1 when an
/// invariant failed or the run could not be done.
int run_scenario(const BenchConfig& config);

}  // namespace concertd::bench
