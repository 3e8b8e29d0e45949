// opening: the opening of a real on-sale. --fans pre-queue tokens are issued while opensAt lies
// an hour ahead, then opensAt is moved a few seconds ahead and a sample of the tokens is polled
// closed loop on kPollConnections connections until every sampled token has its place. Reports
// how long after opensAt that took, the status latency before (baseline) and during the opening,
// and whether the places of a larger sample are distinct and within the line.
//
// opensAt is written in the bench's clock and read back in the server's: the times after opensAt
// mean something only when both run on one machine (or on well synchronised clocks).
#include <algorithm>
#include <cstdio>
#include <unordered_map>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include "bench/api_calls.hpp"
#include "bench/scenario_runs.hpp"
#include "domain/time.hpp"

namespace concertd::bench {

namespace {

/// Connections polling the sample (closed loop), from before opensAt to the end of the opening.
constexpr std::size_t kPollConnections = 32;
/// Tokens polled in turn to time the opening: small enough that one round over them takes a few
/// ms, large enough that every slice the server places holds some (4096 a slice: 100,000 tokens
/// are 25 slices, each missed by 512 randomly placed samples with probability about e^-21).
constexpr std::size_t kTimingSample = 512;
/// Tokens whose places are checked once the line has settled.
constexpr std::size_t kPositionSample = 10'000;
/// Unmeasured polling before the baseline window: --warmup seconds. The baseline window itself:
constexpr auto kBaseline = std::chrono::seconds(2);
/// opensAt while the tokens are issued: far enough that no issue outlasts it.
constexpr auto kIssueHorizon = std::chrono::hours(1);
/// The run fails when some sampled token has no place this long after opensAt.
constexpr auto kOpeningDeadline = std::chrono::seconds(30);
/// Passes over the position sample until two admin reads around one agree (admissions settle).
constexpr int kSettleTries = 5;
/// A pre-queue token not polled within the server's --waiting-idle-ttl (300 s by default) is
/// dropped at the opening; an issue phase this long is worth a note.
constexpr auto kLongIssue = std::chrono::seconds(200);

/// One sampled token and what its answers said.
struct Sampled {
  std::string token;
  Clock::time_point last_pre_queue_sent{};           ///< the latest request answered pre_queue
  std::optional<Clock::time_point> placed_received;  ///< the first answer saying waiting or active
  bool lost = false;                                 ///< answered 401: dropped (or never known)
};

/// Where a token is once the line has settled.
struct Place {
  std::string status;  ///< waiting, active, pre_queue, or "lost" (no 200 answer)
  std::int64_t position = 0;
};

Timestamp system_now() { return std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now()); }

double ms_between(Clock::time_point from, Clock::time_point to) {
  return duration<double, std::milli>(to - from).count();
}

/// POST /api/admin/queue with `change`; the new state, or nullopt with `why`.
Task<std::optional<json::object>> change_room(Shard& shard, HttpConnection& conn, const json::object& change,
                                              std::string& why) {
  RequestHeaders headers;
  headers.admin_key = shard.shared.cfg.admin_key;
  const std::string body = json::serialize(change);
  Exchange ex;
  co_await shard.call(conn, nullptr, Method::post, "/api/admin/queue", body, headers, 200, Clock::now(), ex);
  std::optional<json::object> out;
  if (ex.status != 200) {
    why = "POST /api/admin/queue " + body + ": " +
          (ex.status == 0 ? "no answer (" + ex.error + ")" : std::to_string(ex.status) + " " + code_of(ex));
    co_return out;
  }
  out = parse_object(ex.body);
  co_return out;
}

/// Reads the status of `token` into `place`; `ex` keeps the exchange for the caller's timing.
Task<void> read_place(Shard& shard, HttpConnection& conn, const std::string& token, Exchange& ex, Place& place) {
  RequestHeaders headers;
  headers.bearer = token;
  co_await shard.call(conn, nullptr, Method::get, "/api/queue/status", kNoBody, headers, 200, Clock::now(), ex);
  place = Place{"lost", 0};
  if (ex.status != 200) {
    co_return;
  }
  if (auto o = parse_object(ex.body)) {
    place.status = string_field(*o, "status");
    place.position = int_field(*o, "position");
  }
}

class Opening {
 public:
  Opening(Shard& shard, std::size_t fans)
      : _shard(shard), _fans(fans), _stride(std::max<std::size_t>(1, fans / kPositionSample)) {}

  /// Issues tokens until --fans were asked for; every `_stride`-th is kept for the checks.
  Task<void> issue_worker() {
    auto conn = _shard.connect();
    StepStats* step = &_shard.rec.step("token");
    /// Bounded by the number of fans.
    while (_next_issue < _fans && !_shard.shared.stop.load()) {
      const std::size_t i = _next_issue++;
      const std::string user = "bench-o-" + _shard.shared.run_id + "-" + std::to_string(i);
      std::string why;
      const auto t = co_await issue_token(_shard, *conn, user, step, why);
      if (!t) {
        ++issue_failures;
        _shard.shared.note("issue failures, e.g. " + why);
        continue;
      }
      if (t->status != "pre_queue") {
        _shard.shared.fail("a token was issued " + t->status + ", not pre_queue: is another opensAt being set?");
        break;
      }
      ++issued;
      if (i % _stride == 0) {
        _position_sample.push_back(t->token);
      }
    }
  }

  /// The timing sample: spread evenly over the position sample (itself spread over issue order).
  void choose_timing_sample() {
    const std::size_t every = std::max<std::size_t>(1, _position_sample.size() / kTimingSample);
    for (std::size_t i = 0; i < _position_sample.size() && _timing.size() < kTimingSample; i += every) {
      _timing.push_back(Sampled{_position_sample[i], {}, std::nullopt, false});
    }
    _unplaced = _timing.size();
  }

  /// Polls the timing sample in turn until every token is placed or the deadline passes. Answers
  /// sent before `opens` count as baseline (after `baseline_start`), later ones as the opening.
  Task<void> timing_worker(Clock::time_point baseline_start, Clock::time_point opens, Clock::time_point deadline) {
    auto conn = _shard.connect();
    StepStats* baseline = &_shard.rec.step("baseline");
    StepStats* opening = &_shard.rec.step("opening");
    Exchange ex;
    Place place;
    /// Bounded by the deadline: nothing is sent after it.
    while (_unplaced > 0 && !_shard.shared.stop.load() && Clock::now() < deadline) {
      Sampled& s = _timing[_cursor++ % _timing.size()];
      if (s.lost) {
        continue;
      }
      co_await read_place(_shard, *conn, s.token, ex, place);
      if (ex.status == 0) {
        /// No answer (the server is away): no busy loop of refused connects until the deadline.
        co_await _shard.sleep_until(Clock::now() + milliseconds(10));
      }
      note_answer(s, place, ex);
      const bool ok = place.status == "pre_queue" || place.status == "waiting" || place.status == "active";
      if (ex.sent >= baseline_start) {
        const std::string code = ok ? std::string() : (ex.status == 200 ? "BAD_STATUS_BODY" : code_of(ex));
        _shard.rec.record(ex.sent < opens ? *baseline : *opening, ok, ex.status, code, ex.sent, ex.received);
      }
    }
  }

  /// One pass over the position sample on this worker's share of it.
  Task<void> position_worker(std::size_t worker, std::size_t workers, std::vector<Place>& places) {
    auto conn = _shard.connect();
    StepStats* step = &_shard.rec.step("positions");
    Exchange ex;
    /// Bounded by the sample.
    for (std::size_t i = worker; i < _position_sample.size() && !_shard.shared.stop.load(); i += workers) {
      co_await read_place(_shard, *conn, _position_sample[i], ex, places[i]);
      const bool ok = places[i].status != "lost";
      _shard.rec.record(*step, ok, ex.status, ok ? std::string() : code_of(ex), ex.sent, ex.received);
    }
  }

  const std::vector<Sampled>& timing() const { return _timing; }
  const std::vector<std::string>& position_sample() const { return _position_sample; }
  std::size_t unplaced() const { return _unplaced; }

  std::size_t issued = 0;
  std::size_t issue_failures = 0;

 private:
  void note_answer(Sampled& s, const Place& place, const Exchange& ex) {
    if (s.placed_received) {
      return;
    }
    if (place.status == "pre_queue") {
      s.last_pre_queue_sent = std::max(s.last_pre_queue_sent, ex.sent);
    } else if (place.status == "waiting" || place.status == "active") {
      s.placed_received = ex.received;
      --_unplaced;
    } else if (ex.status == 401) {
      s.lost = true;
      --_unplaced;
    }
  }

  Shard& _shard;
  std::size_t _fans;
  std::size_t _stride;
  std::size_t _next_issue = 0;
  std::size_t _cursor = 0;
  std::size_t _unplaced = 0;
  std::vector<std::string> _position_sample;  ///< at most kPositionSample + 1
  std::vector<Sampled> _timing;               ///< at most kTimingSample
};

/// When the sampled tokens got their places, in ms after opensAt (bench clock).
struct OpeningTimes {
  std::size_t placed = 0;
  std::size_t lost = 0;
  double first_placed_ms = 0;  ///< the earliest first answer saying waiting or active
  double last_placed_ms = 0;   ///< the latest one: the opening was over by then
  double last_lower_ms = 0;    ///< that token still answered pre_queue to a request sent then
};

OpeningTimes opening_times(const std::vector<Sampled>& timing, Clock::time_point opens) {
  OpeningTimes t;
  std::optional<Clock::time_point> first;
  std::optional<Clock::time_point> last;
  Clock::time_point last_lower{};
  for (const Sampled& s : timing) {
    if (s.lost) {
      ++t.lost;
    }
    if (!s.placed_received) {
      continue;
    }
    ++t.placed;
    if (!first || *s.placed_received < *first) {
      first = s.placed_received;
    }
    if (!last || *s.placed_received > *last) {
      last = s.placed_received;
      last_lower = s.last_pre_queue_sent;
    }
  }
  if (first) {
    t.first_placed_ms = ms_between(opens, *first);
    t.last_placed_ms = ms_between(opens, *last);
    t.last_lower_ms = ms_between(opens, std::max(last_lower, opens));
  }
  return t;
}

/// The places of the position sample against the line's counts around the pass.
struct PositionCheck {
  std::size_t sampled = 0;
  std::size_t waiting = 0;
  std::size_t active = 0;
  std::size_t still_pre_queue = 0;
  std::size_t lost = 0;
  std::size_t duplicates = 0;
  std::size_t out_of_range = 0;
  std::int64_t line_waiting = 0;  ///< GET /api/admin/queue after the pass
  std::int64_t line_active = 0;
  std::int64_t line_pre_queue = 0;
  bool settled = false;  ///< the counts did not move during the pass
};

PositionCheck check_places(const std::vector<Place>& places, const json::object& after, bool settled) {
  PositionCheck c;
  c.sampled = places.size();
  c.settled = settled;
  c.line_waiting = int_field(after, "waiting");
  c.line_active = int_field(after, "active");
  c.line_pre_queue = int_field(after, "preQueue");
  std::unordered_map<std::int64_t, std::size_t> seen;
  for (const Place& p : places) {
    if (p.status == "active") {
      ++c.active;
    } else if (p.status == "pre_queue") {
      ++c.still_pre_queue;
    } else if (p.status != "waiting") {
      ++c.lost;
    } else {
      ++c.waiting;
      if (++seen[p.position] == 2) {
        ++c.duplicates;
      }
      if (p.position < 1 || p.position > c.line_waiting) {
        ++c.out_of_range;
      }
    }
  }
  return c;
}

void add_violation(InvariantReport& report, const std::string& invariant, const std::string& detail) {
  ++report.checks;
  if (report.violations.size() < kMaxViolations) {
    report.violations.push_back(Violation{invariant, detail});
  }
}

void expect_holds(InvariantReport& report, bool holds, const std::string& invariant, const std::string& detail) {
  if (holds) {
    ++report.checks;
  } else {
    add_violation(report, invariant, detail);
  }
}

/// The run's figures, gathered for the summary and the JSON report.
struct OpeningRun {
  std::size_t fans = 0;
  json::object before;  ///< GET /api/admin/queue before anything
  double issue_seconds = 0;
  std::string opens_at;
  Clock::time_point opens{};
  Clock::time_point baseline_start{};
  Clock::time_point opening_end{};
  bool finished = false;
  OpeningTimes times;
  std::optional<json::object> room_after;        ///< the admin state once openedAt is known
  std::optional<double> server_opened_after_ms;  ///< openedAt - opensAt, server clock
  PositionCheck positions;
};

/// The line was empty before the run: every issued token must be in it afterwards.
bool fresh_line(const json::object& before) {
  return int_field(before, "waiting") == 0 && int_field(before, "active") == 0 && int_field(before, "preQueue") == 0;
}

/// Step 1: the line as it was, and opensAt an hour ahead so that every token issued is pre_queue.
bool prepare(Shard& shard, HttpConnection& conn, OpeningRun& run) {
  Shared& shared = shard.shared;
  if (shared.cfg.admin_key.empty()) {
    shared.fail("the opening scenario sets opensAt: give --admin-key (the server's --admin-key)");
    return false;
  }
  auto before = run_blocking(shard, read_admin_queue(shard, conn));
  if (!before) {
    shared.fail("GET /api/admin/queue gave no 200: check --url and --admin-key (the server's)");
    return false;
  }
  run.before = *before;
  if (!fresh_line(run.before)) {
    shared.note("the line was not empty before the run: " + json::serialize(run.before) +
                "; the count check (waiting + active = issued) is skipped");
  }
  std::string why;
  const json::object change{{"opensAt", format_rfc3339(system_now() + kIssueHorizon)}};
  if (!run_blocking(shard, change_room(shard, conn, change, why))) {
    shared.fail(why);
    return false;
  }
  return true;
}

/// Step 2: --fans pre-queue tokens on --concurrency connections.
void issue_all(Shard& shard, Opening& opening, OpeningRun& run) {
  shard.shared.phase = "issuing";
  const auto start = Clock::now();
  shard.rec.set_window(start, Clock::time_point::max());
  for (std::int64_t w = 0; w < shard.shared.cfg.concurrency; ++w) {
    asio::co_spawn(shard.io, opening.issue_worker(), asio::detached);
  }
  shard.io.restart();
  shard.io.run();
  run.issue_seconds = duration<double>(Clock::now() - start).count();
  shard.rec.step("token").set_window_seconds(run.issue_seconds);
  if (Clock::now() - start > kLongIssue) {
    shard.shared.note("issuing took " + std::to_string(static_cast<int>(run.issue_seconds)) +
                      " s: tokens issued first are dropped at the opening if that exceeds --waiting-idle-ttl");
  }
}

/// Step 3: opensAt set --warmup + 2 s ahead, the sample polled until every token has a place.
bool open_and_time(Shard& shard, HttpConnection& conn, Opening& opening, OpeningRun& run) {
  Shared& shared = shard.shared;
  const auto lead = duration_cast<Clock::duration>(duration<double>(shared.cfg.warmup_s)) + kBaseline;
  const auto sys_now = std::chrono::system_clock::now();
  const auto steady_now = Clock::now();
  const Timestamp opens_at = std::chrono::ceil<Millis>(sys_now + lead);
  run.opens_at = format_rfc3339(opens_at);
  run.opens = steady_now + duration_cast<Clock::duration>(opens_at - sys_now);
  run.baseline_start = run.opens - kBaseline;
  std::string why;
  if (!run_blocking(shard, change_room(shard, conn, json::object{{"opensAt", run.opens_at}}, why))) {
    shared.fail(why);
    return false;
  }
  opening.choose_timing_sample();
  shared.phase = "opening";
  shard.rec.set_window(run.baseline_start, Clock::time_point::max());
  const auto deadline = run.opens + kOpeningDeadline;
  for (std::size_t w = 0; w < kPollConnections; ++w) {
    asio::co_spawn(shard.io, opening.timing_worker(run.baseline_start, run.opens, deadline), asio::detached);
  }
  shard.io.restart();
  shard.io.run();
  run.times = opening_times(opening.timing(), run.opens);
  run.finished = opening.unplaced() == 0 && run.times.placed > 0;
  run.opening_end = run.opens + duration_cast<Clock::duration>(duration<double, std::milli>(run.times.last_placed_ms));
  shard.rec.step("baseline").set_window_seconds(duration<double>(run.opens - run.baseline_start).count());
  shard.rec.step("opening").set_window_seconds(std::max(1e-3, run.times.last_placed_ms / 1000.0));
  if (!run.finished && shared.fatal.empty()) {
    shared.fail(std::to_string(opening.unplaced()) + " of " + std::to_string(opening.timing().size()) +
                " sampled tokens had no place " + std::to_string(kOpeningDeadline.count()) + " s after opensAt");
  }
  return run.finished;
}

/// Step 4: the server's openedAt (written with the opening, shown once it is over).
void read_opened_at(Shard& shard, HttpConnection& conn, OpeningRun& run) {
  /// Bounded: a second of tries.
  for (int i = 0; i < 20; ++i) {
    auto room = run_blocking(shard, read_admin_queue(shard, conn));
    if (room) {
      const auto opened = parse_rfc3339(string_field(*room, "openedAt"));
      const auto opens = parse_rfc3339(string_field(*room, "opensAt"));
      if (opened && opens) {
        run.server_opened_after_ms = static_cast<double>((*opened - *opens).count());
        run.room_after = std::move(room);
        return;
      }
    }
    run_blocking_void(shard, shard.sleep_until(Clock::now() + milliseconds(50)));
  }
  shard.shared.note("GET /api/admin/queue showed no openedAt within a second of the last placement");
}

/// Step 5: passes over the position sample until the line's counts stand still around one.
void check_positions(Shard& shard, HttpConnection& conn, Opening& opening, OpeningRun& run) {
  shard.shared.phase = "positions";
  const auto& sample = opening.position_sample();
  std::vector<Place> places(sample.size());
  std::optional<json::object> after;
  bool settled = false;
  const std::size_t workers = std::min(kPollConnections, std::max<std::size_t>(1, sample.size()));
  const auto start = Clock::now();
  /// Bounded by kSettleTries.
  for (int attempt = 0; attempt < kSettleTries && !settled; ++attempt) {
    const auto before = run_blocking(shard, read_admin_queue(shard, conn));
    for (std::size_t w = 0; w < workers; ++w) {
      asio::co_spawn(shard.io, opening.position_worker(w, workers, places), asio::detached);
    }
    shard.io.restart();
    shard.io.run();
    after = run_blocking(shard, read_admin_queue(shard, conn));
    settled = before && after && int_field(*before, "waiting") == int_field(*after, "waiting") &&
              int_field(*before, "active") == int_field(*after, "active");
  }
  shard.rec.step("positions").set_window_seconds(duration<double>(Clock::now() - start).count());
  if (!after) {
    shard.shared.fail("GET /api/admin/queue failed after the opening");
    return;
  }
  run.positions = check_places(places, *after, settled);
  if (!settled) {
    shard.shared.note("admissions went on during every position pass: a duplicate may be a moved place");
  }
}

void judge(const OpeningRun& run, const Opening& opening, InvariantReport& report) {
  const PositionCheck& p = run.positions;
  expect_holds(report, run.finished, "opening_done",
               "sampled tokens without a place " + std::to_string(kOpeningDeadline.count()) + " s after opensAt");
  expect_holds(report, run.times.lost == 0 && p.lost == 0, "token_lost",
               std::to_string(run.times.lost + p.lost) + " sampled pre-queue tokens answered 401 or garbage");
  expect_holds(report, p.still_pre_queue == 0 && p.line_pre_queue == 0, "still_pre_queue",
               std::to_string(p.still_pre_queue) + " sampled tokens (line: " + std::to_string(p.line_pre_queue) +
                   ") still pre_queue after the opening");
  expect_holds(report, p.duplicates == 0, "position",
               std::to_string(p.duplicates) + " positions shared by two or more sampled tokens");
  expect_holds(report, p.out_of_range == 0, "position",
               std::to_string(p.out_of_range) + " positions outside 1.." + std::to_string(p.line_waiting));
  if (fresh_line(run.before)) {
    const auto in_line = p.line_waiting + p.line_active;
    expect_holds(report, in_line == static_cast<std::int64_t>(opening.issued), "token_lost",
                 "waiting " + std::to_string(p.line_waiting) + " + active " + std::to_string(p.line_active) +
                     " != " + std::to_string(opening.issued) + " tokens issued");
  }
}

/// The step of that name when the run got that far (Recorder::step would add an empty one).
const StepStats* find_step(const Recorder& rec, std::string_view name) {
  for (const auto& s : rec.steps()) {
    if (s->name() == name) {
      return s.get();
    }
  }
  return nullptr;
}

json::value latency_json(const Recorder& rec, std::string_view name) {
  const StepStats* s = find_step(rec, name);
  if (s == nullptr) {
    return nullptr;
  }
  const Histogram& h = s->latency();
  return json::object{{"count", h.count()},
                      {"p50_ms", h.percentile(50) / 1000.0},
                      {"p99_ms", h.percentile(99) / 1000.0},
                      {"max_ms", static_cast<double>(h.max()) / 1000.0}};
}

json::object figures_json(const OpeningRun& run, const Opening& opening, const Recorder& rec) {
  const PositionCheck& p = run.positions;
  json::object o{{"fans", static_cast<std::int64_t>(run.fans)},
                 {"tokens_issued", static_cast<std::int64_t>(opening.issued)},
                 {"issue_failures", static_cast<std::int64_t>(opening.issue_failures)},
                 {"issue_seconds", run.issue_seconds},
                 {"opens_at", run.opens_at},
                 {"finished", run.finished},
                 {"deadline_s", kOpeningDeadline.count()},
                 {"timing_sample", static_cast<std::int64_t>(opening.timing().size())},
                 {"first_placed_ms", run.times.first_placed_ms},
                 {"opening_ms", run.times.last_placed_ms},
                 {"opening_ms_lower_bound", run.times.last_lower_ms},
                 {"status_baseline", latency_json(rec, "baseline")},
                 {"status_opening", latency_json(rec, "opening")}};
  o["server_opened_at_minus_opens_at_ms"] =
      run.server_opened_after_ms ? json::value(*run.server_opened_after_ms) : json::value(nullptr);
  o["room_after"] = run.room_after ? json::value(*run.room_after) : json::value(nullptr);
  o["room_before"] = run.before;
  o["positions"] = json::object{{"sampled", static_cast<std::int64_t>(p.sampled)},
                                {"waiting", static_cast<std::int64_t>(p.waiting)},
                                {"active", static_cast<std::int64_t>(p.active)},
                                {"still_pre_queue", static_cast<std::int64_t>(p.still_pre_queue)},
                                {"lost", static_cast<std::int64_t>(p.lost)},
                                {"duplicates", static_cast<std::int64_t>(p.duplicates)},
                                {"out_of_range", static_cast<std::int64_t>(p.out_of_range)},
                                {"line_waiting", p.line_waiting},
                                {"line_active", p.line_active},
                                {"settled", p.settled}};
  return o;
}

void print_summary(const OpeningRun& run, const Opening& opening, const Recorder& rec) {
  std::printf("opening at %s of %zu pre-queue tokens (issued in %.1f s, %zu failures)\n", run.opens_at.c_str(),
              opening.issued, run.issue_seconds, opening.issue_failures);
  std::printf(
      "  every sampled token (%zu) had its place %.0f ms after opensAt (still pre_queue at %.0f ms); "
      "the first at %.0f ms",
      opening.timing().size(), run.times.last_placed_ms, run.times.last_lower_ms, run.times.first_placed_ms);
  if (run.server_opened_after_ms) {
    std::printf("; server: openedAt - opensAt = %.0f ms", *run.server_opened_after_ms);
  }
  std::printf("\n");
  for (const char* name : {"baseline", "opening"}) {
    const StepStats* s = find_step(rec, name);
    if (s == nullptr) {
      continue;
    }
    const Histogram& h = s->latency();
    std::printf("  status %-8s p50 %.2f ms  p99 %.2f ms  max %.2f ms  (%llu answers)\n", name,
                h.percentile(50) / 1000.0, h.percentile(99) / 1000.0, static_cast<double>(h.max()) / 1000.0,
                static_cast<unsigned long long>(h.count()));
  }
  const PositionCheck& p = run.positions;
  std::printf(
      "  positions of %zu sampled tokens: %zu waiting, %zu active, %zu duplicates, %zu outside 1..%lld, "
      "%zu lost, %zu still pre_queue; line: waiting %lld, active %lld\n",
      p.sampled, p.waiting, p.active, p.duplicates, p.out_of_range, static_cast<long long>(p.line_waiting), p.lost,
      p.still_pre_queue, static_cast<long long>(p.line_waiting), static_cast<long long>(p.line_active));
}

}  // namespace

void scenario_opening(Shared& shared, Outcome& out) {
  OpeningRun run;
  run.fans = static_cast<std::size_t>(shared.cfg.fans.value_or(100'000));
  Shard shard(shared, Clock::now(), Clock::time_point::max());
  auto conn = shard.connect();
  Opening opening(shard, run.fans);
  out.main_step = "opening";
  if (prepare(shard, *conn, run)) {
    issue_all(shard, opening, run);
  }
  if (shared.fatal.empty() && opening.issued == 0) {
    shared.fail("no pre-queue token was issued (" + std::to_string(opening.issue_failures) + " failures)");
  }
  if (shared.fatal.empty() && open_and_time(shard, *conn, opening, run)) {
    read_opened_at(shard, *conn, run);
    check_positions(shard, *conn, opening, run);
    out.invariants_checked = true;
    judge(run, opening, out.invariants);
  }
  out.merged.set_window(run.baseline_start, std::max(run.opening_end, run.opens));
  out.merged.merge(shard.rec);
  out.extra["opening"] = figures_json(run, opening, out.merged);
  if (run.times.placed > 0) {
    print_summary(run, opening, out.merged);
  }
}

}  // namespace concertd::bench
