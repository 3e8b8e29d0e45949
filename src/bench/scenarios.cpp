#include "bench/scenarios.hpp"

#include <chrono>
#include <fstream>
#include <iostream>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include "bench/http_client.hpp"
#include "bench/report.hpp"
#include "bench/run_context.hpp"
#include "bench/scenario_runs.hpp"
#include "domain/time.hpp"

namespace concertd::bench {

namespace {

json::object config_json(const BenchConfig& cfg) {
  json::object o{{"concurrency", cfg.concurrency}, {"duration_s", cfg.duration_s}, {"warmup_s", cfg.warmup_s},
                 {"threads", cfg.threads},         {"poll_scale", cfg.poll_scale}, {"arrival_s", cfg.arrival_s},
                 {"timeout_ms", cfg.timeout_ms}};
  o["rate"] = cfg.rate ? json::value(*cfg.rate) : json::value(nullptr);
  o["concert"] = cfg.concert ? json::value(*cfg.concert) : json::value(nullptr);
  o["seat_count"] = cfg.seat_count ? json::value(*cfg.seat_count) : json::value(nullptr);
  o["fans"] = cfg.fans ? json::value(*cfg.fans) : json::value(nullptr);
  return o;
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  return static_cast<bool>(f);
}

}  // namespace

// Over 70 lines: the bench command from flags to report (address, shards, threads, report
// files); the load generator's, to be split with its next change.
// NOLINTNEXTLINE(readability-function-size)
int run_scenario(const BenchConfig& cfg) {
  auto url = parse_base_url(cfg.url);
  if (!url) {
    std::cerr << "concertd bench: --url must be http://host:port\n";
    return 2;
  }
  const std::string started_at = format_rfc3339(std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now()));
  tcp::endpoint endpoint;
  try {
    endpoint = resolve(*url);
  } catch (const std::exception& e) {
    std::cerr << "concertd bench: cannot resolve " << url->host << ": " << e.what() << "\n";
    return 1;
  }
  Shared shared(cfg, endpoint, url->host + ":" + url->port, random_run_id());
  Outcome out;
  {
    Progress progress(shared, cfg.progress);
    try {
      if (cfg.scenario == "status") {
        scenario_status(shared, out);
      } else if (cfg.scenario == "seats") {
        scenario_seats(shared, out);
      } else if (cfg.scenario == "token") {
        scenario_token(shared, out);
      } else if (cfg.scenario == "holds") {
        scenario_holds(shared, out);
      } else if (cfg.scenario == "payments") {
        scenario_payments(shared, out);
      } else if (cfg.scenario == "rush") {
        scenario_rush(shared, out);
      } else if (cfg.scenario == "waiting") {
        scenario_waiting(shared, out);
      } else if (cfg.scenario == "opening") {
        scenario_opening(shared, out);
      } else {
        shared.fail("unknown scenario " + cfg.scenario);
      }
    } catch (const std::exception& e) {
      shared.fail(std::string("the run stopped: ") + e.what());
    }
    progress.stop();
  }

  std::cout << "concertd bench " << cfg.scenario << " against " << cfg.url << " (run " << shared.run_id << ")\n";
  std::cout << format_table(out.merged);
  if (out.fans) {
    std::cout << "fans: bought " << out.fans->bought << ", sold out " << out.fans->sold_out << ", failed "
              << out.fans->failed;
    for (const auto& [reason, n] : out.fans->failed_by_reason) {
      std::cout << "; " << reason << ": " << n;
    }
    std::cout << "\n";
  }
  // A run with no success at all measured nothing: the server refused everything or is away.
  if (shared.fatal.empty() && !out.main_step.empty() && out.merged.step(out.main_step).ok() == 0) {
    shared.fail("no successful " + out.main_step + " request in the measured window");
  }
  for (const auto& n : shared.notes) {
    std::cout << "note: " << n << "\n";
  }
  if (!out.invariants_checked) {
    std::cout << "invariants: none checked in this scenario\n";
  } else if (out.invariants.ok()) {
    std::cout << "invariants: ok (" << out.invariants.checks << " checks)\n";
  } else {
    std::cout << "invariants: " << out.invariants.violations.size() << " violation(s) in " << out.invariants.checks
              << " checks\n";
    for (const auto& v : out.invariants.violations) {
      std::cout << "  " << v.invariant << ": " << v.detail << "\n";
    }
  }
  if (!shared.fatal.empty()) {
    std::cout << "error: " << shared.fatal << "\n";
  }

  RunResult result;
  result.scenario = cfg.scenario;
  result.url = cfg.url;
  result.started_at = started_at;
  result.config = config_json(cfg);
  result.recorder = &out.merged;
  result.fans = out.fans;
  result.extra = out.extra;
  if (!shared.fatal.empty()) {
    result.extra["error"] = shared.fatal;
  }
  result.invariants_checked = out.invariants_checked;
  result.invariants = out.invariants;
  result.notes = shared.notes;
  bool written = true;
  if (!cfg.json_path.empty()) {
    written = write_file(cfg.json_path, json::serialize(to_json(result)) + "\n") && written;
  }
  if (!cfg.html_path.empty()) {
    written = write_file(cfg.html_path, to_html(result)) && written;
  }
  if (!written) {
    std::cerr << "concertd bench: could not write a report file\n";
    return 1;
  }
  return shared.fatal.empty() && out.invariants.ok() ? 0 : 1;
}

}  // namespace concertd::bench
