#include "bench/scenarios.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <mutex>
#include <queue>
#include <random>
#include <thread>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include "bench/http_client.hpp"
#include "bench/invariants.hpp"
#include "bench/report.hpp"
#include "domain/time.hpp"

namespace concertd::bench {

namespace asio = boost::asio;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using std::chrono::duration;
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kNoBody;
/// Seats of every concert the holds and payments scenarios create (the contract's maximum).
constexpr std::int64_t kBigConcertSeats = 5000;
constexpr std::int64_t kBenchPrice = 50'000;
/// A cap on concerts one run creates (holds, payments): 5,000,000 seats.
constexpr std::int64_t kMaxConcerts = 1000;
/// Seats a worker takes from the shared cursor at once.
constexpr std::int64_t kSeatChunk = 100;
/// payments: seats one user holds and then pays (needs --max-holds-per-user >= this).
constexpr std::int64_t kHoldsPerPayer = 10;
/// Final balance reads after payments/rush are capped: enough users to catch a leak.
constexpr std::size_t kMaxBalanceChecks = 20'000;
/// The rush ends at the latest this long after the last arrival.
constexpr auto kRushDeadlineAfterArrivals = std::chrono::seconds(90);

/// What every shard of a run shares: where to send, the run's name, its clock origin and the
/// live counters the progress line prints.
struct Shared {
  Shared(const BenchConfig& config, tcp::endpoint to, std::string host, std::string run)
      : cfg(config), endpoint(to), host_header(std::move(host)), run_id(std::move(run)), origin(Clock::now()) {}

  const BenchConfig& cfg;
  tcp::endpoint endpoint;
  std::string host_header;
  std::string run_id;
  Clock::time_point origin;
  std::atomic<std::uint64_t> live_ok{0};
  std::atomic<std::uint64_t> live_errors{0};
  std::atomic<bool> stop{false};
  std::atomic<const char*> phase{"setup"};
  std::atomic<std::int64_t> concerts_created{0};
  std::mutex mutex;
  std::string fatal;  ///< guarded by mutex; the first reason the run cannot go on
  std::vector<std::string> notes;  ///< guarded by mutex

  void fail(const std::string& why) {
    std::lock_guard lock(mutex);
    if (fatal.empty()) {
      fatal = why;
    }
    stop = true;
  }
  void note(const std::string& what) {
    std::lock_guard lock(mutex);
    if (std::find(notes.begin(), notes.end(), what) == notes.end() && notes.size() < 32) {
      notes.push_back(what);
    }
  }
  std::int64_t micros_since_origin(Clock::time_point t) const {
    return duration_cast<microseconds>(t - origin).count();
  }
};

std::string random_run_id() {
  std::random_device rd;
  const char* digits = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 8; ++i) {
    id += digits[rd() % 16];
  }
  return id;
}

// JSON answers: fields read defensively, a server answering garbage fails a step, not the bench.
std::optional<json::object> parse_object(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    return std::nullopt;
  }
  return std::move(v.as_object());
}

std::int64_t int_field(const json::object& o, std::string_view key, std::int64_t fallback = 0) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) {
    return fallback;
  }
  if (v->is_int64()) {
    return v->as_int64();
  }
  if (v->is_uint64()) {
    return static_cast<std::int64_t>(v->as_uint64());
  }
  if (v->is_double()) {
    return static_cast<std::int64_t>(v->as_double());
  }
  return fallback;
}

std::string string_field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) {
    return {};
  }
  return std::string(v->as_string());
}

/// The error code an answer stands for: the transport's, the body's `code`, or HTTP_<status>.
std::string code_of(const Exchange& ex) {
  if (ex.status == 0) {
    return ex.error;
  }
  if (auto o = parse_object(ex.body)) {
    std::string code = string_field(*o, "code");
    if (!code.empty()) {
      return code;
    }
  }
  return "HTTP_" + std::to_string(ex.status);
}

/// One shard: an io_context driven by one thread, with its own recorder.
struct Shard {
  Shared& shared;
  asio::io_context io{1};
  Recorder rec;

  Shard(Shared& s, Clock::time_point start, Clock::time_point end) : shared(s), rec(start, end) {}

  std::unique_ptr<HttpConnection> connect() {
    return std::make_unique<HttpConnection>(io.get_executor(), shared.endpoint, shared.host_header,
                                            milliseconds(shared.cfg.timeout_ms));
  }

  /// Sends one request and counts it in `step` (when given); latency from `started`.
  Task<void> call(HttpConnection& conn, StepStats* step, Method method, std::string_view target,
                  std::string_view body, const RequestHeaders& headers, int ok_status, Clock::time_point started,
                  Exchange& ex) {
    co_await conn.request(method, target, body, headers, ex);
    const bool ok = ex.status == ok_status;
    if (ok) {
      shared.live_ok.fetch_add(1, std::memory_order_relaxed);
    } else {
      shared.live_errors.fetch_add(1, std::memory_order_relaxed);
    }
    if (step == nullptr) {
      co_return;
    }
    const std::string code = ok ? std::string() : code_of(ex);
    const Clock::time_point from = std::min(started, ex.sent);
    rec.record(*step, ok, ex.status, code, from, ex.received);
  }

  Task<void> sleep_until(Clock::time_point t) {
    asio::steady_timer timer(io, t);
    co_await timer.async_wait(kNoThrow);
  }
};

// ---------------------------------------------------------------------------------------------
// Setup helpers shared by the scenarios.

struct TokenAnswer {
  std::string token;
  std::string status;
  std::int64_t position = 0;
  std::int64_t poll_after = 1;
};

std::string json_user_body(std::string_view user) {
  std::string body = "{\"userId\":\"";
  body += user;
  body += "\"}";
  return body;
}

/// Issues a token for `user`; nullopt (with `why`) when the answer is not 201/200.
Task<std::optional<TokenAnswer>> issue_token(Shard& shard, HttpConnection& conn, std::string_view user,
                                             StepStats* step, std::string& why) {
  const std::string body = json_user_body(user);
  const RequestHeaders headers;
  Exchange ex;
  const auto now = Clock::now();
  co_await shard.call(conn, step, Method::post, "/api/queue/token", body, headers, 201, now, ex);
  std::optional<TokenAnswer> out;
  if (ex.status != 201 && ex.status != 200) {
    why = "token for " + std::string(user) + ": " +
          (ex.status == 0 ? "no answer (" + ex.error + ")" : std::to_string(ex.status) + " " + code_of(ex));
    co_return out;
  }
  auto o = parse_object(ex.body);
  if (!o) {
    why = "token answer is not JSON";
    co_return out;
  }
  TokenAnswer t;
  t.token = string_field(*o, "token");
  t.status = string_field(*o, "status");
  t.position = int_field(*o, "queuePosition");
  t.poll_after = int_field(*o, "pollAfterSeconds", 1);
  out = std::move(t);
  co_return out;
}

/// Creates a concert dated 2030-01-01; 0 (with `why`) on failure.
Task<std::int64_t> create_concert(Shard& shard, HttpConnection& conn, std::int64_t seats,
                                  const std::vector<std::int64_t>& prices, std::string& why) {
  if (shard.shared.cfg.admin_key.empty()) {
    why = "creating a concert needs --admin-key (the server's --admin-key)";
    co_return 0;
  }
  if (shard.shared.concerts_created.fetch_add(1) >= kMaxConcerts) {
    why = "the run would create more than " + std::to_string(kMaxConcerts) + " concerts";
    co_return 0;
  }
  json::object req{{"title", "bench " + shard.shared.run_id}, {"venue", "bench hall"}, {"date", "2030-01-01"},
                   {"seatCount", seats}};
  if (prices.empty()) {
    req["price"] = kBenchPrice;
  } else {
    json::array p;
    for (auto v : prices) {
      p.push_back(v);
    }
    req["prices"] = std::move(p);
  }
  const std::string body = json::serialize(req);
  RequestHeaders headers;
  headers.admin_key = shard.shared.cfg.admin_key;
  Exchange ex;
  const auto now = Clock::now();
  co_await shard.call(conn, nullptr, Method::post, "/api/admin/concerts", body, headers, 201, now, ex);
  if (ex.status != 201) {
    why = "creating a concert: " + (ex.status == 0 ? ex.error : std::to_string(ex.status) + " " + code_of(ex));
    co_return 0;
  }
  auto o = parse_object(ex.body);
  co_return o ? int_field(*o, "concertId") : 0;
}

struct SeatMap {
  std::int64_t available = 0;
  std::int64_t held = 0;
  std::int64_t reserved = 0;
  std::vector<std::int64_t> available_seats;
  std::map<std::int64_t, std::int64_t> price_by_seat;
};

std::optional<SeatMap> parse_seat_map(std::string_view body) {
  auto o = parse_object(body);
  if (!o) {
    return std::nullopt;
  }
  const json::value* seats = o->if_contains("seats");
  if (seats == nullptr || !seats->is_array()) {
    return std::nullopt;
  }
  SeatMap map;
  for (const auto& s : seats->as_array()) {
    if (!s.is_object()) {
      continue;
    }
    const auto& seat = s.as_object();
    const std::int64_t number = int_field(seat, "number");
    const std::string status = string_field(seat, "status");
    map.price_by_seat[number] = int_field(seat, "price");
    if (status == "available") {
      ++map.available;
      map.available_seats.push_back(number);
    } else if (status == "reserved") {
      ++map.reserved;
    } else {
      ++map.held;
    }
  }
  return map;
}

Task<std::optional<SeatMap>> read_seat_map(Shard& shard, HttpConnection& conn, std::int64_t concert, StepStats* step) {
  const std::string target = "/api/concerts/" + std::to_string(concert) + "/seats";
  const RequestHeaders headers;
  Exchange ex;
  const auto now = Clock::now();
  co_await shard.call(conn, step, Method::get, target, kNoBody, headers, 200, now, ex);
  std::optional<SeatMap> out;
  if (ex.status == 200) {
    out = parse_seat_map(ex.body);
  }
  co_return out;
}

/// The balance read at the end; nullopt when it could not be read.
Task<std::optional<std::int64_t>> read_balance(Shard& shard, HttpConnection& conn, std::string_view user) {
  std::string target = "/api/users/";
  target += user;
  target += "/balance";
  const RequestHeaders headers;
  Exchange ex;
  const auto now = Clock::now();
  co_await shard.call(conn, nullptr, Method::get, target, kNoBody, headers, 200, now, ex);
  std::optional<std::int64_t> out;
  if (ex.status == 200) {
    if (auto o = parse_object(ex.body)) {
      out = int_field(*o, "balance");
    }
  }
  co_return out;
}

/// GET /api/admin/queue: how many tokens are active and waiting before a rush.
Task<std::optional<json::object>> read_admin_queue(Shard& shard, HttpConnection& conn) {
  RequestHeaders headers;
  headers.admin_key = shard.shared.cfg.admin_key;
  Exchange ex;
  const auto now = Clock::now();
  co_await shard.call(conn, nullptr, Method::get, "/api/admin/queue", kNoBody, headers, 200, now, ex);
  std::optional<json::object> out;
  if (ex.status == 200) {
    out = parse_object(ex.body);
  }
  co_return out;
}

/// process_resident_memory_bytes from /metrics, when the server exposes it.
Task<std::optional<double>> read_server_rss(Shard& shard, HttpConnection& conn) {
  const RequestHeaders headers;
  Exchange ex;
  const auto now = Clock::now();
  co_await shard.call(conn, nullptr, Method::get, "/metrics", kNoBody, headers, 200, now, ex);
  std::optional<double> out;
  if (ex.status != 200) {
    co_return out;
  }
  constexpr std::string_view name = "process_resident_memory_bytes";
  std::size_t pos = 0;
  /// One pass over the lines; a /metrics page is bounded by the body limit.
  while (pos < ex.body.size()) {
    const std::size_t end = std::min(ex.body.find('\n', pos), ex.body.size());
    std::string_view line(ex.body.data() + pos, end - pos);
    if (line.substr(0, name.size()) == name && line.size() > name.size() &&
        (line[name.size()] == ' ' || line[name.size()] == '{')) {
      const auto space = line.rfind(' ');
      try {
        out = std::stod(std::string(line.substr(space + 1)));
      } catch (const std::exception&) {
        out.reset();
      }
      break;
    }
    pos = end + 1;
  }
  co_return out;
}

/// Runs `task` on the shard's io_context to the end and rethrows what it threw.
template <class T>
T run_blocking(Shard& shard, Task<T> task) {
  std::exception_ptr failure;
  std::optional<T> result;
  asio::co_spawn(shard.io, std::move(task), [&](std::exception_ptr e, T value) {
    failure = e;
    if (!e) {
      result = std::move(value);
    }
  });
  shard.io.restart();
  shard.io.run();
  if (failure) {
    std::rethrow_exception(failure);
  }
  return std::move(*result);
}

void run_blocking_void(Shard& shard, Task<void> task) {
  std::exception_ptr failure;
  asio::co_spawn(shard.io, std::move(task), [&](std::exception_ptr e) { failure = e; });
  shard.io.restart();
  shard.io.run();
  if (failure) {
    std::rethrow_exception(failure);
  }
}

// ---------------------------------------------------------------------------------------------
// Closed and open loop load for status, seats, token, holds and payments.

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

Task<void> load_worker(Shard& shard, Workload& workload, std::size_t worker, LoadPlan plan) {
  Clock::time_point next = plan.first_send;
  const auto interval = plan.interval_s ? duration_cast<Clock::duration>(duration<double>(*plan.interval_s))
                                        : Clock::duration::zero();
  /// Bounded by the clock: no request is started after load_end.
  for (;;) {
    if (shard.shared.stop.load(std::memory_order_relaxed)) {
      break;
    }
    Clock::time_point started = Clock::now();
    if (started >= plan.load_end) {
      break;
    }
    if (plan.interval_s) {
      if (next >= plan.load_end) {
        break;
      }
      if (started < next) {
        co_await shard.sleep_until(next);
      }
      /// Latency counts from the intended send time, so a slow answer that delays the next
      /// send is charged to that send as well (no coordinated omission).
      started = next;
      next += interval;
    }
    co_await workload.issue(shard, worker, started);
  }
}

/// GET with a fixed target and bearer: `status` and `seats`.
class FixedGetWorkload final : public Workload {
 public:
  FixedGetWorkload(std::string step, std::string target, std::string bearer, std::size_t workers)
      : _step(std::move(step)), _target(std::move(target)), _bearer(std::move(bearer)), _workers(workers) {}

  void attach(Shard& shard, const std::vector<std::size_t>& workers) {
    _stats = &shard.rec.step(_step);
    for (auto w : workers) {
      _conns[w] = shard.connect();
    }
  }

  Task<void> issue(Shard& shard, std::size_t worker, Clock::time_point started) override {
    RequestHeaders headers;
    headers.bearer = _bearer;
    Exchange& ex = _exchanges[worker];
    co_await shard.call(*_conns[worker], _stats, Method::get, _target, kNoBody, headers, 200, started, ex);
  }

 private:
  std::string _step;
  std::string _target;
  std::string _bearer;
  std::size_t _workers;
  StepStats* _stats = nullptr;
  std::vector<std::unique_ptr<HttpConnection>> _conns = std::vector<std::unique_ptr<HttpConnection>>(_workers);
  std::vector<Exchange> _exchanges = std::vector<Exchange>(_workers);
};

/// A fresh userId per request: `token`.
class TokenWorkload final : public Workload {
 public:
  explicit TokenWorkload(std::size_t workers) : _conns(workers), _exchanges(workers), _bodies(workers), _sent(workers) {}

  void attach(Shard& shard, const std::vector<std::size_t>& workers) {
    _stats = &shard.rec.step("token");
    for (auto w : workers) {
      _conns[w] = shard.connect();
    }
  }

  Task<void> issue(Shard& shard, std::size_t worker, Clock::time_point started) override {
    std::string& body = _bodies[worker];
    body = "{\"userId\":\"bench-t-";
    body += shard.shared.run_id;
    body += '-';
    body += std::to_string(worker);
    body += '-';
    body += std::to_string(_sent[worker]++);
    body += "\"}";
    const RequestHeaders headers;
    Exchange& ex = _exchanges[worker];
    co_await shard.call(*_conns[worker], _stats, Method::post, "/api/queue/token", body, headers, 201, started, ex);
  }

 private:
  StepStats* _stats = nullptr;
  std::vector<std::unique_ptr<HttpConnection>> _conns;
  std::vector<Exchange> _exchanges;
  std::vector<std::string> _bodies;
  std::vector<std::uint64_t> _sent;
};

/// Free seats handed out in chunks from the concerts one shard created, so that no two workers
/// ever ask for the same seat; a new concert is created when they run out.
class SeatSource {
 public:
  /// A chunk [first, last] of `concert`; false when no more concerts may be created.
  Task<bool> take(Shard& shard, HttpConnection& conn, std::int64_t& concert, std::int64_t& first, std::int64_t& last) {
    /// Bounded wait while another worker of the shard creates the next concert.
    for (int waited = 0; _creating && waited < 2000; ++waited) {
      co_await shard.sleep_until(Clock::now() + milliseconds(5));
    }
    if (_concert == 0 || _next > kBigConcertSeats) {
      _creating = true;
      std::string why;
      const std::vector<std::int64_t> no_prices;
      const std::int64_t id = co_await create_concert(shard, conn, kBigConcertSeats, no_prices, why);
      _creating = false;
      if (id == 0) {
        shard.shared.fail(why);
        co_return false;
      }
      _concert = id;
      _next = 1;
      concerts.push_back(id);
    }
    concert = _concert;
    first = _next;
    last = std::min(kBigConcertSeats, _next + kSeatChunk - 1);
    _next = last + 1;
    co_return true;
  }

  std::vector<std::int64_t> concerts;

 private:
  bool _creating = false;
  std::int64_t _concert = 0;
  std::int64_t _next = 1;
};

struct WorkerSeats {
  std::int64_t concert = 0;
  std::int64_t next = 1;
  std::int64_t last = 0;
};

std::string hold_body(std::int64_t concert, std::int64_t seat) {
  return "{\"concertId\":" + std::to_string(concert) + ",\"seatNumber\":" + std::to_string(seat) + "}";
}

const char* kHoldFlags =
    "restart the server with a --max-active far above the bench's --concurrency (every 4 holds take a new "
    "user's token; e.g. --max-active 1000000) and --max-holds-per-user >= 10";

/// Holds per user in `holds`: the server's default --max-holds-per-user. A user holding thousands
/// of seats would measure the per-user count, not a fan's hold.
constexpr std::int64_t kHoldsPerHolder = 4;

/// Every request holds a different free seat; each worker takes a new user's active token every
/// kHoldsPerHolder holds (step `token`, counted apart): `holds`.
class HoldsWorkload final : public Workload {
 public:
  explicit HoldsWorkload(std::size_t workers, std::vector<std::string> tokens)
      : _tokens(std::move(tokens)), _conns(workers), _exchanges(workers), _seats(workers), _held(workers, 0),
        _users(workers, 0) {}

  void attach(Shard& shard, const std::vector<std::size_t>& workers) {
    _stats = &shard.rec.step("hold");
    _token_stats = &shard.rec.step("token");
    for (auto w : workers) {
      _conns[w] = shard.connect();
    }
  }

  Task<void> issue(Shard& shard, std::size_t worker, Clock::time_point started) override {
    WorkerSeats& seats = _seats[worker];
    if (seats.next > seats.last) {
      const bool got = co_await _source.take(shard, *_conns[worker], seats.concert, seats.next, seats.last);
      if (!got) {
        co_return;
      }
    }
    if (_held[worker] >= kHoldsPerHolder) {
      const std::string user = "bench-h-" + shard.shared.run_id + "-" + std::to_string(worker) + "-" +
                               std::to_string(++_users[worker]);
      std::string why;
      const auto token = co_await issue_token(shard, *_conns[worker], user, _token_stats, why);
      if (!token || token->status != "active") {
        shard.shared.fail(token ? "a holds token came back " + token->status + ": " + kHoldFlags : why);
        co_return;
      }
      _tokens[worker] = token->token;
      _held[worker] = 0;
      co_return;  // the token was this turn's request
    }
    const std::string body = hold_body(seats.concert, seats.next++);
    RequestHeaders headers;
    headers.bearer = _tokens[worker];
    Exchange& ex = _exchanges[worker];
    co_await shard.call(*_conns[worker], _stats, Method::post, "/api/reservations", body, headers, 201, started, ex);
    if (ex.status == 201) {
      ++_held[worker];
    }
    if (ex.status == 409 || ex.status == 403) {
      const std::string code = code_of(ex);
      if (code == "HOLD_LIMIT_EXCEEDED" || code == "TOKEN_NOT_ACTIVE") {
        shard.shared.fail("hold answered " + code + ": " + kHoldFlags);
      }
    }
  }

 private:
  StepStats* _stats = nullptr;
  StepStats* _token_stats = nullptr;
  std::vector<std::string> _tokens;
  std::vector<std::unique_ptr<HttpConnection>> _conns;
  std::vector<Exchange> _exchanges;
  std::vector<WorkerSeats> _seats;
  std::vector<std::int64_t> _held;   // holds of the worker's current user
  std::vector<std::int64_t> _users;  // users the worker has used
  SeatSource _source;
};

/// Every cycle a new user: token (active), one charge, kHoldsPerPayer holds, a payment for each
/// hold: `payments`. Each step has its own rate; `pay` is the payments per second.
class PaymentsWorkload final : public Workload {
 public:
  explicit PaymentsWorkload(std::size_t workers) : _conns(workers), _exchanges(workers), _seats(workers), _cycles(workers) {}

  void attach(Shard& shard, const std::vector<std::size_t>& workers) {
    _token = &shard.rec.step("token");
    _charge = &shard.rec.step("charge");
    _hold = &shard.rec.step("hold");
    _pay = &shard.rec.step("pay");
    for (auto w : workers) {
      _conns[w] = shard.connect();
    }
  }

  Task<void> issue(Shard& shard, std::size_t worker, Clock::time_point started) override {
    HttpConnection& conn = *_conns[worker];
    Exchange& ex = _exchanges[worker];
    const std::string user =
        "bench-p-" + shard.shared.run_id + "-" + std::to_string(worker) + "-" + std::to_string(_cycles[worker]++);
    std::string why;
    const auto token = co_await issue_token(shard, conn, user, _token, why);
    if (!token) {
      co_return;
    }
    if (token->status != "active") {
      shard.shared.fail("a payments token came back " + token->status + ": " + kHoldFlags);
      co_return;
    }
    RequestHeaders headers;
    headers.bearer = token->token;
    BalanceFact money;
    money.user_id = user;
    // One charge covering every hold of the cycle.
    const std::int64_t amount = kHoldsPerPayer * kBenchPrice;
    const std::string charge_body = "{\"amount\":" + std::to_string(amount) + "}";
    const std::string charge_key = user + "-charge";
    headers.idempotency_key = charge_key;
    const std::string charge_target = "/api/users/" + user + "/balance";
    Clock::time_point now = Clock::now();
    co_await shard.call(conn, _charge, Method::post, charge_target, charge_body, headers, 200, now, ex);
    if (ex.status == 200) {
      money.charged = amount;
    }
    // Holds.
    std::vector<std::string> reservations;
    headers.idempotency_key = {};
    for (std::int64_t i = 0; i < kHoldsPerPayer && !shard.shared.stop.load(std::memory_order_relaxed); ++i) {
      WorkerSeats& seats = _seats[worker];
      if (seats.next > seats.last) {
        const bool got = co_await _source.take(shard, conn, seats.concert, seats.next, seats.last);
        if (!got) {
          break;
        }
      }
      const std::string body = hold_body(seats.concert, seats.next++);
      now = Clock::now();
      co_await shard.call(conn, _hold, Method::post, "/api/reservations", body, headers, 201, now, ex);
      if (ex.status == 201) {
        if (auto o = parse_object(ex.body)) {
          reservations.push_back(string_field(*o, "reservationId"));
        }
      } else if (ex.status == 409 && code_of(ex) == "HOLD_LIMIT_EXCEEDED") {
        shard.shared.note("a hold answered HOLD_LIMIT_EXCEEDED: run the server with --max-holds-per-user >= " +
                          std::to_string(kHoldsPerPayer));
        break;
      }
    }
    // Payments, each with its own key.
    for (std::size_t i = 0; i < reservations.size(); ++i) {
      const std::string body = "{\"reservationId\":\"" + reservations[i] + "\"}";
      const std::string key = user + "-pay-" + std::to_string(i);
      headers.idempotency_key = key;
      now = Clock::now();
      co_await shard.call(conn, _pay, Method::post, "/api/payments", body, headers, 200, now, ex);
      if (ex.status == 200) {
        if (auto o = parse_object(ex.body)) {
          PaymentFact p{user, int_field(*o, "concertId"), int_field(*o, "seatNumber"), int_field(*o, "amount")};
          money.paid += p.amount;
          payments.push_back(std::move(p));
        }
      }
    }
    (void)started;
    balances.push_back(std::move(money));
  }

  std::vector<PaymentFact> payments;
  std::vector<BalanceFact> balances;
  SeatSource& source() { return _source; }

 private:
  StepStats* _token = nullptr;
  StepStats* _charge = nullptr;
  StepStats* _hold = nullptr;
  StepStats* _pay = nullptr;
  std::vector<std::unique_ptr<HttpConnection>> _conns;
  std::vector<Exchange> _exchanges;
  std::vector<WorkerSeats> _seats;
  std::vector<std::uint64_t> _cycles;
  SeatSource _source;
};

// ---------------------------------------------------------------------------------------------
// The progress line: its own thread, reading the shared counters once a second.

class Progress {
 public:
  Progress(Shared& shared, bool enabled) : _shared(shared) {
    if (enabled) {
      _tty = isatty(STDERR_FILENO) == 1;
      _thread = std::thread([this] { loop(); });
    }
  }
  ~Progress() { stop(); }

  void stop() {
    {
      std::lock_guard lock(_mutex);
      _stopping = true;
    }
    _wake.notify_all();
    if (_thread.joinable()) {
      _thread.join();
      if (_tty) {
        std::fputs("\n", stderr);
      }
    }
  }

 private:
  void loop() {
    const auto start = Clock::now();
    std::uint64_t last_ok = 0;
    std::int64_t last_second = 0;
    std::unique_lock lock(_mutex);
    /// Ends with the run; one wake-up a second.
    for (std::int64_t second = 1; !_stopping; ++second) {
      _wake.wait_until(lock, start + std::chrono::seconds(second), [this] { return _stopping; });
      if (_stopping) {
        break;
      }
      const std::uint64_t ok = _shared.live_ok.load();
      const std::uint64_t errors = _shared.live_errors.load();
      if (_tty || second % 5 == 0) {
        std::fprintf(stderr, "%s[%s] %llds  ok %llu  errors %llu  %llu/s%s", _tty ? "\r" : "", _shared.phase.load(),
                     static_cast<long long>(second), static_cast<unsigned long long>(ok),
                     static_cast<unsigned long long>(errors),
                     static_cast<unsigned long long>((ok - last_ok) / static_cast<std::uint64_t>(second - last_second)),
                     _tty ? "        " : "\n");
        std::fflush(stderr);
        last_ok = ok;
        last_second = second;
      }
    }
  }

  Shared& _shared;
  bool _tty = false;
  std::mutex _mutex;
  std::condition_variable _wake;
  bool _stopping = false;
  std::thread _thread;
};

// ---------------------------------------------------------------------------------------------
// Runs of the closed/open loop scenarios over one or more shards.

struct LoadRun {
  std::vector<std::unique_ptr<Shard>> shards;
  std::vector<std::vector<std::size_t>> workers_of;  ///< per shard
};

LoadRun make_shards(Shared& shared, Clock::time_point start, Clock::time_point end) {
  LoadRun run;
  const auto threads = static_cast<std::size_t>(std::max<std::int64_t>(1, shared.cfg.threads));
  for (std::size_t i = 0; i < threads; ++i) {
    run.shards.push_back(std::make_unique<Shard>(shared, start, end));
    run.workers_of.emplace_back();
  }
  for (std::size_t w = 0; w < static_cast<std::size_t>(shared.cfg.concurrency); ++w) {
    run.workers_of[w % threads].push_back(w);
  }
  return run;
}

/// Starts every worker on its shard and runs the shards, one thread each, to the end.
void drive(Shared& shared, LoadRun& run, Workload& workload, Clock::time_point load_start, Clock::time_point load_end) {
  const auto& cfg = shared.cfg;
  for (std::size_t s = 0; s < run.shards.size(); ++s) {
    Shard& shard = *run.shards[s];
    for (std::size_t w : run.workers_of[s]) {
      LoadPlan plan{load_start, load_end, std::nullopt, load_start};
      if (cfg.rate) {
        plan.interval_s = static_cast<double>(cfg.concurrency) / *cfg.rate;
        plan.first_send = load_start + duration_cast<Clock::duration>(duration<double>(static_cast<double>(w) / *cfg.rate));
      }
      asio::co_spawn(shard.io, load_worker(shard, workload, w, plan), [&shared](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            shared.fail(std::string("a worker stopped: ") + ex.what());
          }
        }
      });
    }
  }
  std::vector<std::thread> threads;
  for (std::size_t s = 1; s < run.shards.size(); ++s) {
    threads.emplace_back([&run, s] {
      run.shards[s]->io.restart();
      run.shards[s]->io.run();
    });
  }
  run.shards[0]->io.restart();
  run.shards[0]->io.run();
  for (auto& t : threads) {
    t.join();
  }
}

/// The window: `warmup` of unmeasured load, then `duration` measured.
struct Window {
  Clock::time_point load_start;
  Clock::time_point measure_start;
  Clock::time_point measure_end;
};

Window window_from_now(const BenchConfig& cfg) {
  Window w;
  w.load_start = Clock::now();
  w.measure_start = w.load_start + duration_cast<Clock::duration>(duration<double>(cfg.warmup_s));
  w.measure_end = w.measure_start + duration_cast<Clock::duration>(duration<double>(cfg.duration_s));
  return w;
}

struct Outcome {
  Recorder merged{Clock::time_point{}, Clock::time_point{}};
  std::optional<FanOutcomes> fans;
  json::object extra;
  bool invariants_checked = false;
  InvariantReport invariants;
  std::string main_step;
};

void merge_shards(LoadRun& run, Outcome& out) {
  out.merged.set_window(run.shards[0]->rec.measure_start(), run.shards[0]->rec.measure_end());
  for (auto& s : run.shards) {
    out.merged.merge(s->rec);
  }
}

/// A setup shard: its own io_context, used before the load starts.
std::unique_ptr<Shard> setup_shard(Shared& shared) {
  return std::make_unique<Shard>(shared, Clock::time_point{}, Clock::time_point{});
}

void scenario_status(Shared& shared, Outcome& out) {
  auto setup = setup_shard(shared);
  auto conn = setup->connect();
  std::string why;
  const std::string active_user = "bench-active-" + shared.run_id;
  const std::string waiting_user = "bench-waiting-" + shared.run_id;
  auto first = run_blocking(*setup, issue_token(*setup, *conn, active_user, nullptr, why));
  if (!first) {
    shared.fail("setup: " + why);
    return;
  }
  auto second = run_blocking(*setup, issue_token(*setup, *conn, waiting_user, nullptr, why));
  if (!second) {
    shared.fail("setup: " + why);
    return;
  }
  if (second->status != "waiting") {
    const std::string warning = "the status token is " + second->status +
                                ", not waiting: start the server with --max-active 1 to measure a waiting poll";
    std::cerr << "warning: " << warning << "\n";
    shared.note(warning);
  }
  const Window win = window_from_now(shared.cfg);
  LoadRun run = make_shards(shared, win.measure_start, win.measure_end);
  FixedGetWorkload workload("status", "/api/queue/status", second->token, static_cast<std::size_t>(shared.cfg.concurrency));
  for (std::size_t s = 0; s < run.shards.size(); ++s) {
    workload.attach(*run.shards[s], run.workers_of[s]);
  }
  shared.phase = "status";
  drive(shared, run, workload, win.load_start, win.measure_end);
  merge_shards(run, out);
  out.main_step = "status";
}

void scenario_seats(Shared& shared, Outcome& out) {
  std::int64_t concert = shared.cfg.concert.value_or(0);
  if (concert == 0) {
    if (shared.cfg.admin_key.empty()) {
      concert = 1;
    } else {
      auto setup = setup_shard(shared);
      auto conn = setup->connect();
      std::string why;
      const std::vector<std::int64_t> no_prices;
      concert = run_blocking(*setup, create_concert(*setup, *conn, shared.cfg.seat_count.value_or(50), no_prices, why));
      if (concert == 0) {
        shared.fail("setup: " + why);
        return;
      }
    }
  }
  out.extra["concert_id"] = concert;
  const Window win = window_from_now(shared.cfg);
  LoadRun run = make_shards(shared, win.measure_start, win.measure_end);
  FixedGetWorkload workload("seats", "/api/concerts/" + std::to_string(concert) + "/seats", "",
                            static_cast<std::size_t>(shared.cfg.concurrency));
  for (std::size_t s = 0; s < run.shards.size(); ++s) {
    workload.attach(*run.shards[s], run.workers_of[s]);
  }
  shared.phase = "seats";
  drive(shared, run, workload, win.load_start, win.measure_end);
  merge_shards(run, out);
  out.main_step = "seats";
}

void scenario_token(Shared& shared, Outcome& out) {
  const Window win = window_from_now(shared.cfg);
  LoadRun run = make_shards(shared, win.measure_start, win.measure_end);
  TokenWorkload workload(static_cast<std::size_t>(shared.cfg.concurrency));
  for (std::size_t s = 0; s < run.shards.size(); ++s) {
    workload.attach(*run.shards[s], run.workers_of[s]);
  }
  shared.phase = "token";
  drive(shared, run, workload, win.load_start, win.measure_end);
  merge_shards(run, out);
  out.main_step = "token";
}

void scenario_holds(Shared& shared, Outcome& out) {
  const auto workers = static_cast<std::size_t>(shared.cfg.concurrency);
  auto setup = setup_shard(shared);
  auto conn = setup->connect();
  std::vector<std::string> tokens;
  for (std::size_t w = 0; w < workers; ++w) {
    std::string why;
    const std::string user = "bench-h-" + shared.run_id + "-" + std::to_string(w);
    auto t = run_blocking(*setup, issue_token(*setup, *conn, user, nullptr, why));
    if (!t) {
      shared.fail("setup: " + why);
      return;
    }
    if (t->status != "active") {
      shared.fail("setup: token " + std::to_string(w + 1) + " of " + std::to_string(workers) + " is " + t->status +
                  ", not active: " + kHoldFlags);
      return;
    }
    tokens.push_back(t->token);
  }
  const Window win = window_from_now(shared.cfg);
  LoadRun run = make_shards(shared, win.measure_start, win.measure_end);
  /// One workload per shard: each has its own seat source, none shared between threads.
  std::vector<std::unique_ptr<HoldsWorkload>> workloads;
  for (std::size_t s = 0; s < run.shards.size(); ++s) {
    workloads.push_back(std::make_unique<HoldsWorkload>(workers, tokens));
    workloads.back()->attach(*run.shards[s], run.workers_of[s]);
  }
  shared.phase = "holds";
  if (run.shards.size() == 1) {
    drive(shared, run, *workloads[0], win.load_start, win.measure_end);
  } else {
    // Each shard runs its own workload: drive them one shard at a time through one LoadRun each.
    std::vector<std::thread> threads;
    std::vector<LoadRun> singles(run.shards.size());
    for (std::size_t s = 0; s < run.shards.size(); ++s) {
      singles[s].shards.push_back(std::move(run.shards[s]));
      singles[s].workers_of.push_back(run.workers_of[s]);
    }
    for (std::size_t s = 0; s < singles.size(); ++s) {
      threads.emplace_back([&, s] { drive(shared, singles[s], *workloads[s], win.load_start, win.measure_end); });
    }
    for (auto& t : threads) {
      t.join();
    }
    for (std::size_t s = 0; s < singles.size(); ++s) {
      run.shards[s] = std::move(singles[s].shards[0]);
    }
  }
  merge_shards(run, out);
  out.extra["concerts_created"] = shared.concerts_created.load();
  out.main_step = "hold";
}

/// Final seat maps and balances, then the seat and money invariants.
void check_payments(Shared& shared, Shard& shard, const std::vector<std::int64_t>& concerts,
                    const std::vector<PaymentFact>& payments, const std::vector<BalanceFact>& balances, Outcome& out) {
  shared.phase = "checking";
  auto conn = shard.connect();
  std::vector<SeatMapFact> maps;
  for (std::int64_t concert : concerts) {
    auto map = run_blocking(shard, read_seat_map(shard, *conn, concert, nullptr));
    if (!map) {
      shared.fail("final seat map of concert " + std::to_string(concert) + " could not be read");
      return;
    }
    SeatMapFact fact;
    fact.concert_id = concert;
    fact.exclusive = true;
    fact.reserved = map->reserved;
    fact.price_by_seat = std::move(map->price_by_seat);
    maps.push_back(std::move(fact));
  }
  std::vector<BalanceFact> finals;
  for (const auto& b : balances) {
    if (finals.size() >= kMaxBalanceChecks) {
      shared.note("balances checked for the first " + std::to_string(kMaxBalanceChecks) + " users only");
      break;
    }
    auto balance = run_blocking(shard, read_balance(shard, *conn, b.user_id));
    if (!balance) {
      shared.fail("final balance of " + b.user_id + " could not be read");
      return;
    }
    BalanceFact f = b;
    f.final_balance = *balance;
    finals.push_back(std::move(f));
  }
  out.invariants_checked = true;
  check_seats(payments, maps, out.invariants);
  check_money(finals, out.invariants);
}

void scenario_payments(Shared& shared, Outcome& out) {
  const auto workers = static_cast<std::size_t>(shared.cfg.concurrency);
  const Window win = window_from_now(shared.cfg);
  LoadRun run = make_shards(shared, win.measure_start, win.measure_end);
  std::vector<std::unique_ptr<PaymentsWorkload>> workloads;
  for (std::size_t s = 0; s < run.shards.size(); ++s) {
    workloads.push_back(std::make_unique<PaymentsWorkload>(workers));
    workloads.back()->attach(*run.shards[s], run.workers_of[s]);
  }
  shared.phase = "payments";
  std::vector<std::thread> threads;
  std::vector<LoadRun> singles(run.shards.size());
  for (std::size_t s = 0; s < run.shards.size(); ++s) {
    singles[s].shards.push_back(std::move(run.shards[s]));
    singles[s].workers_of.push_back(run.workers_of[s]);
  }
  for (std::size_t s = 1; s < singles.size(); ++s) {
    threads.emplace_back([&, s] { drive(shared, singles[s], *workloads[s], win.load_start, win.measure_end); });
  }
  drive(shared, singles[0], *workloads[0], win.load_start, win.measure_end);
  for (auto& t : threads) {
    t.join();
  }
  for (std::size_t s = 0; s < singles.size(); ++s) {
    run.shards[s] = std::move(singles[s].shards[0]);
  }
  merge_shards(run, out);
  out.main_step = "pay";
  std::vector<std::int64_t> concerts;
  std::vector<PaymentFact> payments;
  std::vector<BalanceFact> balances;
  for (auto& w : workloads) {
    concerts.insert(concerts.end(), w->source().concerts.begin(), w->source().concerts.end());
    payments.insert(payments.end(), w->payments.begin(), w->payments.end());
    balances.insert(balances.end(), w->balances.begin(), w->balances.end());
  }
  out.extra["concerts_created"] = static_cast<std::int64_t>(concerts.size());
  if (!shared.fatal.empty()) {
    return;
  }
  auto checker = setup_shard(shared);
  check_payments(shared, *checker, concerts, payments, balances, out);
}

// ---------------------------------------------------------------------------------------------
// rush: fans arriving over --arrival seconds, each a coroutine, sharing a bounded pool of
// connections.

/// At most `size` connections; a request waits for a free one in FIFO order.
class ConnectionPool {
 public:
  ConnectionPool(Shard& shard, std::size_t size) : _shard(shard), _size(size) {}

  Task<HttpConnection*> acquire() {
    if (!_free.empty()) {
      HttpConnection* c = _free.back();
      _free.pop_back();
      co_return c;
    }
    if (_all.size() < _size) {
      _all.push_back(_shard.connect());
      co_return _all.back().get();
    }
    Waiter waiter(_shard.io);
    _waiters.push_back(&waiter);
    co_await waiter.timer.async_wait(kNoThrow);
    co_return waiter.handed;
  }

  void release(HttpConnection* c) {
    if (!_waiters.empty()) {
      Waiter* w = _waiters.front();
      _waiters.pop_front();
      w->handed = c;
      w->timer.cancel();
      return;
    }
    _free.push_back(c);
  }

 private:
  struct Waiter {
    explicit Waiter(asio::io_context& io) : timer(io, Clock::time_point::max()) {}
    asio::steady_timer timer;
    HttpConnection* handed = nullptr;
  };
  Shard& _shard;
  std::size_t _size;
  std::vector<std::unique_ptr<HttpConnection>> _all;
  std::vector<HttpConnection*> _free;
  std::deque<Waiter*> _waiters;  ///< at most one per fan
};

enum class FanEnd { running, bought, sold_out, failed };

struct Fan {
  std::string user;
  TokenFact token_fact;
  std::string token;
  bool charge_tried = false;
  std::int64_t charged = 0;
  std::int64_t paid = 0;
  FanEnd end = FanEnd::running;
  std::string reason;
};

class Rush {
 public:
  Rush(Shard& shard, std::int64_t concert, std::int64_t fans, Clock::time_point deadline)
      : _shard(shard), _pool(shard, static_cast<std::size_t>(shard.shared.cfg.concurrency)), _concert(concert),
        _fans(static_cast<std::size_t>(fans)), _deadline(deadline), _rng(std::random_device{}()) {
    _token = &shard.rec.step("token");
    _status = &shard.rec.step("status");
    _seats = &shard.rec.step("seats");
    _hold = &shard.rec.step("hold");
    _charge = &shard.rec.step("charge");
    _pay = &shard.rec.step("pay");
  }

  /// Spawns the fans at their arrival times and returns when every one has ended.
  Task<void> run(double arrival_s) {
    const auto start = Clock::now();
    const std::size_t n = _fans.size();
    asio::co_spawn(_shard.io, watch_sold_out(), asio::detached);
    for (std::size_t i = 0; i < n; ++i) {
      const auto at = start + duration_cast<Clock::duration>(
                                  duration<double>(arrival_s * static_cast<double>(i) / static_cast<double>(n)));
      co_await _shard.sleep_until(at);
      asio::co_spawn(_shard.io, fan(i), [this, i](std::exception_ptr e) {
        if (e) {
          end(i, FanEnd::failed, "exception");
        }
      });
    }
    /// Every fan ends by the deadline plus one request timeout; waiting is bounded by that.
    const auto last = _deadline + milliseconds(_shard.shared.cfg.timeout_ms) + std::chrono::seconds(2);
    while (_ended < n && Clock::now() < last) {
      co_await _shard.sleep_until(Clock::now() + milliseconds(20));
    }
    _done = true;
  }

  std::vector<Fan>& fans() { return _fans; }
  std::vector<PaymentFact>& payments() { return _payments; }
  bool all_ended() const { return _ended == _fans.size(); }

 private:
  Task<void> exchange(StepStats* step, Method method, std::string_view target, std::string_view body,
                      const RequestHeaders& headers, int ok_status, Exchange& ex) {
    HttpConnection* conn = co_await _pool.acquire();
    const auto now = Clock::now();
    co_await _shard.call(*conn, step, method, target, body, headers, ok_status, now, ex);
    _pool.release(conn);
  }

  void end(std::size_t i, FanEnd how, std::string reason = {}) {
    Fan& f = _fans[i];
    if (f.end != FanEnd::running) {
      return;
    }
    f.end = how;
    f.reason = std::move(reason);
    ++_ended;
  }

  /// Waiting fans give up once every seat is sold: one map read a second for all of them.
  Task<void> watch_sold_out() {
    const RequestHeaders headers;
    const std::string target = "/api/concerts/" + std::to_string(_concert) + "/seats";
    Exchange ex;
    /// Ends with the rush (bounded by its deadline).
    while (!_done && !_all_reserved) {
      co_await _shard.sleep_until(Clock::now() + std::chrono::seconds(1));
      co_await exchange(nullptr, Method::get, target, kNoBody, headers, 200, ex);
      if (ex.status == 200) {
        if (auto map = parse_seat_map(ex.body)) {
          _all_reserved = map->available == 0 && map->held == 0;
        }
      }
    }
  }

  QueueObservation observe(const Exchange& ex, bool active, std::int64_t position) const {
    return QueueObservation{_shard.shared.micros_since_origin(ex.sent), _shard.shared.micros_since_origin(ex.received),
                            active, position};
  }

  Task<void> fan(std::size_t i) {
    Fan& f = _fans[i];
    f.user = "bench-r-" + _shard.shared.run_id + "-" + std::to_string(i);
    f.token_fact.user_id = f.user;
    const double scale = _shard.shared.cfg.poll_scale;
    Exchange ex;
    RequestHeaders headers;

    // Token: a transport error or a 5xx is tried again, three times at most.
    const std::string token_body = json_user_body(f.user);
    for (int attempt = 0; attempt < 3; ++attempt) {
      co_await exchange(_token, Method::post, "/api/queue/token", token_body, headers, 201, ex);
      if (ex.status != 0 && ex.status < 500) {
        break;
      }
      co_await _shard.sleep_until(Clock::now() + milliseconds(200));
    }
    auto answer = ex.status == 201 ? parse_object(ex.body) : std::nullopt;
    if (!answer) {
      end(i, FanEnd::failed, "token " + code_of(ex));
      co_return;
    }
    f.token = string_field(*answer, "token");
    headers.bearer = f.token;
    bool active = string_field(*answer, "status") == "active";
    std::int64_t poll_after = int_field(*answer, "pollAfterSeconds", 1);
    f.token_fact.issue_sent_us = _shard.shared.micros_since_origin(ex.sent);
    f.token_fact.issue_received_us = _shard.shared.micros_since_origin(ex.received);
    f.token_fact.observations.push_back(observe(ex, active, int_field(*answer, "queuePosition")));

    // Waiting: poll at the server's pace (scaled) until active.
    int failures = 0;
    while (!active) {
      if (Clock::now() >= _deadline) {
        end(i, FanEnd::failed, "deadline while waiting");
        co_return;
      }
      const auto pause = duration_cast<Clock::duration>(
          duration<double>(std::max(0.05, static_cast<double>(poll_after) * scale)));
      co_await _shard.sleep_until(std::min(Clock::now() + pause, _deadline));
      if (_all_reserved) {
        end(i, FanEnd::sold_out);
        co_return;
      }
      co_await exchange(_status, Method::get, "/api/queue/status", kNoBody, headers, 200, ex);
      if (ex.status == 200) {
        auto o = parse_object(ex.body);
        if (!o) {
          end(i, FanEnd::failed, "status not JSON");
          co_return;
        }
        active = string_field(*o, "status") == "active";
        const std::int64_t position = int_field(*o, "position");
        poll_after = int_field(*o, "pollAfterSeconds", poll_after);
        f.token_fact.observations.push_back(observe(ex, active, position));
      } else if (ex.status == 401) {
        f.token_fact.dropped = true;
        end(i, FanEnd::failed, "token dropped (401)");
        co_return;
      } else if (++failures > 5) {
        end(i, FanEnd::failed, "status " + code_of(ex));
        co_return;
      }
    }

    // Active: pick a free seat from the map, hold it; re-read the map after a few misses.
    const std::string seats_target = "/api/concerts/" + std::to_string(_concert) + "/seats";
    std::vector<std::int64_t> available;
    std::map<std::int64_t, std::int64_t> prices;
    std::string reservation;
    std::int64_t price = 0;
    int misses_since_map = 0;
    bool need_map = true;
    for (int attempt = 0; attempt < 10 && reservation.empty(); ++attempt) {
      if (need_map || available.empty() || misses_since_map >= 3) {
        co_await exchange(_seats, Method::get, seats_target, kNoBody, headers, 200, ex);
        auto map = ex.status == 200 ? parse_seat_map(ex.body) : std::nullopt;
        if (!map) {
          continue;
        }
        need_map = false;
        misses_since_map = 0;
        if (map->available == 0 && map->held == 0) {
          _all_reserved = true;
        }
        if (map->available == 0) {
          end(i, FanEnd::sold_out);
          co_return;
        }
        available = std::move(map->available_seats);
        prices = std::move(map->price_by_seat);
      }
      std::uniform_int_distribution<std::size_t> pick(0, available.size() - 1);
      const std::size_t k = pick(_rng);
      const std::int64_t seat = available[k];
      available[k] = available.back();
      available.pop_back();
      const std::string body = hold_body(_concert, seat);
      co_await exchange(_hold, Method::post, "/api/reservations", body, headers, 201, ex);
      if (ex.status == 201) {
        if (auto o = parse_object(ex.body)) {
          reservation = string_field(*o, "reservationId");
          price = int_field(*o, "price", prices[seat]);
        }
        break;
      }
      const std::string code = code_of(ex);
      if (code == "SEAT_LOCKED" || code == "SEAT_ALREADY_ASSIGNED" || ex.status == 0 || ex.status >= 500) {
        ++misses_since_map;
        continue;
      }
      end(i, FanEnd::failed, "hold " + code);
      co_return;
    }
    if (reservation.empty()) {
      end(i, FanEnd::failed, "no hold after 10 tries");
      co_return;
    }

    // Charge exactly the price, then pay; each with its own key, tried again with that key.
    const std::string charge_target = "/api/users/" + f.user + "/balance";
    const std::string charge_body = "{\"amount\":" + std::to_string(price) + "}";
    const std::string charge_key = f.user + "-charge";
    headers.idempotency_key = charge_key;
    f.charge_tried = true;
    for (int attempt = 0; attempt < 3; ++attempt) {
      co_await exchange(_charge, Method::post, charge_target, charge_body, headers, 200, ex);
      if (ex.status != 0 && ex.status < 500 && ex.status != 409) {
        break;
      }
      co_await _shard.sleep_until(Clock::now() + milliseconds(100));
    }
    if (ex.status != 200) {
      end(i, FanEnd::failed, "charge " + code_of(ex));
      co_return;
    }
    f.charged += price;
    const std::string pay_body = "{\"reservationId\":\"" + reservation + "\"}";
    const std::string pay_key = f.user + "-pay";
    headers.idempotency_key = pay_key;
    for (int attempt = 0; attempt < 3; ++attempt) {
      co_await exchange(_pay, Method::post, "/api/payments", pay_body, headers, 200, ex);
      if (ex.status != 0 && ex.status < 500 && ex.status != 409) {
        break;
      }
      co_await _shard.sleep_until(Clock::now() + milliseconds(100));
    }
    auto paid = ex.status == 200 ? parse_object(ex.body) : std::nullopt;
    if (!paid) {
      end(i, FanEnd::failed, "pay " + code_of(ex));
      co_return;
    }
    PaymentFact p{f.user, int_field(*paid, "concertId"), int_field(*paid, "seatNumber"), int_field(*paid, "amount")};
    f.paid += p.amount;
    _payments.push_back(std::move(p));
    end(i, FanEnd::bought);
  }

  Shard& _shard;
  ConnectionPool _pool;
  std::int64_t _concert;
  std::vector<Fan> _fans;
  std::vector<PaymentFact> _payments;
  Clock::time_point _deadline;
  std::mt19937_64 _rng;
  std::size_t _ended = 0;
  bool _all_reserved = false;
  bool _done = false;
  StepStats* _token;
  StepStats* _status;
  StepStats* _seats;
  StepStats* _hold;
  StepStats* _charge;
  StepStats* _pay;
};

void scenario_rush(Shared& shared, Outcome& out) {
  const auto& cfg = shared.cfg;
  const std::int64_t seat_count = cfg.seat_count.value_or(50);
  const std::int64_t fans = cfg.fans.value_or(1000);
  // Prices vary by seat (50,000 to 150,000), so that a payment of the wrong seat's price shows.
  std::vector<std::int64_t> prices;
  for (std::int64_t s = 1; s <= seat_count; ++s) {
    prices.push_back(50'000 + 10'000 * (s % 11));
  }
  std::int64_t concert = 0;
  {
    auto setup = setup_shard(shared);
    auto conn = setup->connect();
    std::string why;
    concert = run_blocking(*setup, create_concert(*setup, *conn, seat_count, prices, why));
    if (concert == 0) {
      shared.fail("setup: " + why);
      return;
    }
  }
  out.extra["concert_id"] = concert;
  {
    auto setup = setup_shard(shared);
    auto conn = setup->connect();
    const auto queue = run_blocking(*setup, read_admin_queue(*setup, *conn));
    if (queue && int_field(*queue, "active") >= int_field(*queue, "maxActive", 1)) {
      const std::string warning = "every active slot (" + std::to_string(int_field(*queue, "active")) +
                                  ") is already taken by earlier tokens: fans wait until those expire (active-ttl)";
      std::cerr << "warning: " << warning << "\n";
      shared.note(warning);
    }
  }
  const auto start = Clock::now();
  const auto deadline = start + duration_cast<Clock::duration>(duration<double>(cfg.arrival_s)) + kRushDeadlineAfterArrivals;
  Shard shard(shared, start, Clock::time_point::max());
  shared.phase = "rush";
  Rush rush(shard, concert, fans, deadline);
  run_blocking_void(shard, rush.run(cfg.arrival_s));
  const auto finished = Clock::now();
  shard.rec.set_window(start, finished);
  out.merged.set_window(start, finished);
  out.merged.merge(shard.rec);
  out.main_step = "pay";
  FanOutcomes outcomes;
  std::vector<TokenFact> tokens;
  std::vector<BalanceFact> balances;
  for (auto& f : rush.fans()) {
    switch (f.end) {
      case FanEnd::bought:
        ++outcomes.bought;
        break;
      case FanEnd::sold_out:
        ++outcomes.sold_out;
        break;
      case FanEnd::failed:
        ++outcomes.failed;
        ++outcomes.failed_by_reason[f.reason];
        break;
      case FanEnd::running:
        ++outcomes.failed;
        ++outcomes.failed_by_reason["still running at the deadline"];
        break;
    }
    if (!f.token_fact.observations.empty()) {
      tokens.push_back(f.token_fact);
    }
    if (f.charge_tried) {
      balances.push_back(BalanceFact{f.user, f.charged, f.paid, 0});
    }
  }
  out.fans = outcomes;
  if (!rush.all_ended()) {
    shared.note("some fans had not ended at the deadline");
  }
  Shard checker(shared, Clock::time_point{}, Clock::time_point{});
  std::vector<std::int64_t> concerts{concert};
  check_payments(shared, checker, concerts, rush.payments(), balances, out);
  check_fifo(tokens, out.invariants);
}

// ---------------------------------------------------------------------------------------------
// waiting: many waiting tokens, each polling at its own pace.

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
        pollers.push_back(Poller{t->token, std::max(0.05, static_cast<double>(t->poll_after) * _shard.shared.cfg.poll_scale)});
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
