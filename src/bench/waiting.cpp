// waiting: many waiting tokens, each polling at its own pace; the modelled and achieved status
// rates and the server's memory before and after issuing.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <queue>
#include <random>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include "bench/api_calls.hpp"
#include "bench/load.hpp"
#include "bench/scenario_runs.hpp"

namespace concertd::bench {

namespace {

struct Poller {
  std::string token;
  double interval_s = 1;
};

class Waiting {
 public:
  Waiting(Shard& shard, std::size_t fans) : _shard(shard), _fans(fans) {}

  /// Issues the tokens with --concurrency connections at once.
  Task<void> issue_worker(std::size_t w) {
    auto conn = _shard.connect();
    StepStats* step = &_shard.rec.step("token");
    /// Bounded by the number of fans.
    while (_next_issue < _fans && !_shard.shared.stop.load()) {
      const std::size_t i = _next_issue++;
      const std::string user = "bench-w-" + _shard.shared.run_id + "-" + std::to_string(i);
      std::string why;
      const auto t = co_await issue_token(_shard, *conn, user, step, why);
      if (!t) {
        ++_issue_failures;
        continue;
      }
      if (t->status == "waiting") {
        pollers.push_back(
            Poller{t->token, std::max(0.05, static_cast<double>(t->poll_after) * _shard.shared.cfg.poll_scale)});
      } else {
        ++_active_at_issue;
      }
    }
    (void)w;
  }

  /// Polls the earliest due token, then schedules its next poll; --concurrency of these run.
  Task<void> poll_worker(Clock::time_point end) {
    auto conn = _shard.connect();
    StepStats* step = &_shard.rec.step("status");
    Exchange ex;
    RequestHeaders headers;
    /// Bounded by the clock: nothing is sent after `end`.
    while (!_due.empty() && !_shard.shared.stop.load()) {
      const Due due = _due.top();
      const Clock::time_point at = due.first;
      const std::size_t index = due.second;
      if (at >= end) {
        break;
      }
      _due.pop();
      if (Clock::now() < at) {
        co_await _shard.sleep_until(at);
      }
      headers.bearer = pollers[index].token;
      co_await _shard.call(*conn, step, Method::get, "/api/queue/status", kNoBody, headers, 200, at, ex);
      if (ex.status == 200) {
        auto o = parse_object(ex.body);
        if (o && string_field(*o, "status") == "waiting") {
          const double interval =
              std::max(0.05, static_cast<double>(int_field(*o, "pollAfterSeconds", 1)) * _shard.shared.cfg.poll_scale);
          pollers[index].interval_s = interval;
          /// Next poll on the token's own schedule, not from when this answer arrived.
          _due.emplace(at + duration_cast<Clock::duration>(duration<double>(interval)), index);
        } else {
          ++_left_line;
        }
      } else if (ex.status == 401) {
        ++_left_line;
      } else {
        _due.emplace(at + duration_cast<Clock::duration>(duration<double>(pollers[index].interval_s)), index);
      }
    }
  }

  void schedule_first_polls(Clock::time_point start) {
    std::mt19937_64 rng(std::random_device{}());
    for (std::size_t i = 0; i < pollers.size(); ++i) {
      std::uniform_real_distribution<double> offset(0.0, pollers[i].interval_s);
      _due.emplace(start + duration_cast<Clock::duration>(duration<double>(offset(rng))), i);
    }
  }

  std::vector<Poller> pollers;
  std::size_t issue_failures() const { return _issue_failures; }
  std::size_t active_at_issue() const { return _active_at_issue; }
  std::size_t left_line() const { return _left_line; }

 private:
  using Due = std::pair<Clock::time_point, std::size_t>;
  Shard& _shard;
  std::size_t _fans;
  std::size_t _next_issue = 0;
  std::size_t _issue_failures = 0;
  std::size_t _active_at_issue = 0;
  std::size_t _left_line = 0;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> _due;  ///< one entry per waiting token
};

}  // namespace

void scenario_waiting(Shared& shared, Outcome& out) {
  const auto& cfg = shared.cfg;
  const auto fans = static_cast<std::size_t>(cfg.fans.value_or(10'000));
  const auto workers = static_cast<std::size_t>(cfg.concurrency);
  Shard shard(shared, Clock::now(), Clock::time_point::max());
  auto metrics_conn = shard.connect();
  const auto rss_before = run_blocking(shard, read_server_rss(shard, *metrics_conn));
  Waiting waiting(shard, fans);
  shared.phase = "issuing";
  const auto issue_start = Clock::now();
  shard.rec.set_window(issue_start, Clock::time_point::max());
  for (std::size_t w = 0; w < workers; ++w) {
    asio::co_spawn(shard.io, waiting.issue_worker(w), asio::detached);
  }
  shard.io.restart();
  shard.io.run();
  const auto issue_end = Clock::now();
  const double issue_seconds = duration<double>(issue_end - issue_start).count();
  shard.rec.step("token").set_window_seconds(issue_seconds);
  const auto rss_after = run_blocking(shard, read_server_rss(shard, *metrics_conn));
  if (waiting.pollers.empty()) {
    shared.fail("no waiting token was issued (" + std::to_string(waiting.issue_failures()) +
                " failures): start the server with a small --max-active");
    Recorder& r = out.merged;
    r.set_window(issue_start, issue_end);
    r.merge(shard.rec);
    return;
  }
  double modelled = 0;
  for (const auto& p : waiting.pollers) {
    modelled += 1.0 / p.interval_s;
  }
  // Polling: warmup, then the measured window.
  const Window win = window_from_now(cfg);
  shard.rec.set_window(win.measure_start, win.measure_end);
  waiting.schedule_first_polls(win.load_start);
  shared.phase = "polling";
  for (std::size_t w = 0; w < workers; ++w) {
    asio::co_spawn(shard.io, waiting.poll_worker(win.measure_end), asio::detached);
  }
  shard.io.restart();
  shard.io.run();
  out.merged.set_window(win.measure_start, win.measure_end);
  out.merged.merge(shard.rec);
  out.main_step = "status";
  const double achieved = out.merged.step("status").rate(out.merged.measured_seconds());
  out.extra["waiting"] = json::object{{"tokens_issued", static_cast<std::int64_t>(fans - waiting.issue_failures())},
                                      {"waiting_tokens", static_cast<std::int64_t>(waiting.pollers.size())},
                                      {"active_at_issue", static_cast<std::int64_t>(waiting.active_at_issue())},
                                      {"issue_seconds", issue_seconds},
                                      {"modelled_status_per_s", modelled},
                                      {"achieved_status_per_s", achieved},
                                      {"left_line_while_polling", static_cast<std::int64_t>(waiting.left_line())}};
  if (rss_before && rss_after) {
    out.extra["server_rss_bytes"] = json::object{{"before", *rss_before}, {"after_issuing", *rss_after}};
  }
  std::printf("waiting tokens %zu, modelled status rate %.1f/s, achieved %.1f/s", waiting.pollers.size(), modelled,
              achieved);
  if (rss_before && rss_after) {
    std::printf(", server RSS %.1f MB -> %.1f MB after issuing", *rss_before / 1e6, *rss_after / 1e6);
  } else {
    std::printf(", server RSS not exposed by /metrics");
  }
  std::printf("\n");
}

}  // namespace concertd::bench
