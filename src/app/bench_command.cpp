#include "app/bench_command.hpp"

#include <iostream>
#include <limits>

#include <CLI/CLI.hpp>

#include "bench/scenarios.hpp"

namespace concertd {

int run_bench(int argc, char** argv) {
  bench::BenchConfig cfg;
  CLI::App app{"concertd bench: load generator and invariant checker for a running concertd"};
  app.name("concertd bench");
  app.add_option("scenario", cfg.scenario, "rush | status | seats | token | holds | payments | waiting | opening")
      ->required()
      ->check(CLI::IsMember({"rush", "status", "seats", "token", "holds", "payments", "waiting", "opening"}));
  app.add_option("--url", cfg.url, "server base URL, http://host:port")->capture_default_str();
  app.add_option("--admin-key", cfg.admin_key,
                 "needed by scenarios that create concerts (rush, holds, payments) or set opensAt (opening)");
  const auto count = CLI::Range(std::int64_t{1}, std::int64_t{100'000});
  app.add_option("--concurrency", cfg.concurrency, "connections (closed loop)")->check(count)->capture_default_str();
  app.add_option("--duration", cfg.duration_s, "seconds of measured load (status/seats/token/holds/payments/waiting)")
      ->check(CLI::Range(0.1, 86'400.0))
      ->capture_default_str();
  app.add_option("--rate", cfg.rate,
                 "open loop: requests/s in total instead of closed loop; latency from the intended send time")
      ->check(CLI::Range(0.1, 10'000'000.0));
  app.add_option("--warmup", cfg.warmup_s, "seconds of unmeasured load first")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--concert", cfg.concert, "concert for `seats` (default: create one with --seat-count seats, else 1)")
      ->check(CLI::Range(std::int64_t{1}, std::numeric_limits<std::int64_t>::max()));
  app.add_option("--seat-count", cfg.seat_count, "seats per created concert (default 50)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{5000}));
  app.add_option("--fans", cfg.fans,
                 "rush: fans (default 1000); waiting: waiting tokens (default 10000); opening: pre-queue tokens "
                 "(default 100000)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{10'000'000}));
  app.add_option("--arrival", cfg.arrival_s, "rush: fans arrive uniformly over S seconds")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--poll-scale", cfg.poll_scale, "rush/waiting: multiply pollAfterSeconds by F")
      ->check(CLI::Range(0.001, 100.0))
      ->capture_default_str();
  app.add_option("--json", cfg.json_path, "write the full result as JSON");
  app.add_option("--html", cfg.html_path, "write a self-contained HTML report");
  bool no_progress = false;
  app.add_flag("--no-progress", no_progress, "no live progress line on stderr");
  app.add_option("--threads", cfg.threads, "client io_context threads (status/seats/token/holds/payments)")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{64}))
      ->capture_default_str();
  app.add_option("--timeout", cfg.timeout_ms, "per-request timeout in milliseconds")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{600'000}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  cfg.progress = !no_progress;
  if (cfg.rate && *cfg.rate < static_cast<double>(cfg.concurrency) / 3600.0) {
    std::cerr << "concertd bench: --rate too low for --concurrency\n";
    return 2;
  }
  return bench::run_scenario(cfg);
}

}  // namespace concertd
