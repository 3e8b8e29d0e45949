// The fixed-path scenarios: status, seats and token (one request per turn), holds (a free seat
// per request) and payments (token, charge, holds, payments per cycle), on the closed/open loop
// load of load.hpp.
#include <algorithm>
#include <iostream>
#include <thread>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include "bench/api_calls.hpp"
#include "bench/load.hpp"
#include "bench/scenario_runs.hpp"

namespace concertd::bench {

namespace {

/// Seats of every concert the holds and payments scenarios create (the contract's maximum).
constexpr std::int64_t kBigConcertSeats = 5000;
/// Seats a worker takes from the shared cursor at once.
constexpr std::int64_t kSeatChunk = 100;
/// payments: seats one user holds and then pays (needs --max-holds-per-user >= this).
constexpr std::int64_t kHoldsPerPayer = 10;

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
  explicit TokenWorkload(std::size_t workers)
      : _conns(workers), _exchanges(workers), _bodies(workers), _sent(workers) {}

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

const char* kHoldFlags =
    "restart the server with a --max-active far above the bench's --concurrency (every 4 holds take a new "
    "user's token; e.g. --max-active 1000000) and --max-holds-per-user >= 10";

/// Holds per user in `holds`: the server's default --max-holds-per-user. A user holding thousands
/// of seats would measure the per-user count, not a fan's hold.
constexpr std::int64_t kHoldsPerHolder = 4;

/// Every turn holds a different free seat; each worker takes a new user's active token every
/// kHoldsPerHolder holds (step `token`, counted apart) in the turn of that user's first hold, so
/// that --rate is holds per second, as the closed loop's figure is: `holds`.
class HoldsWorkload final : public Workload {
 public:
  explicit HoldsWorkload(std::size_t workers, std::vector<std::string> tokens)
      : _tokens(std::move(tokens)),
        _conns(workers),
        _exchanges(workers),
        _seats(workers),
        _held(workers, 0),
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
      const std::string user =
          "bench-h-" + shard.shared.run_id + "-" + std::to_string(worker) + "-" + std::to_string(++_users[worker]);
      std::string why;
      const auto token = co_await issue_token(shard, *_conns[worker], user, _token_stats, why);
      if (!token || token->status != "active") {
        shard.shared.fail(token ? "a holds token came back " + token->status + ": " + kHoldFlags : why);
        co_return;
      }
      _tokens[worker] = token->token;
      _held[worker] = 0;
      // The hold's latency starts when it is sent: the token's wait is the token step's.
      started = Clock::now();
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
  explicit PaymentsWorkload(std::size_t workers)
      : _conns(workers), _exchanges(workers), _seats(workers), _cycles(workers) {}

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

}  // namespace

/// Drives one workload, shared by every shard, over the configured window; `step` is the
/// scenario's main step (status, seats, token). The workload is made here, after the shards,
/// so that its connections close before the shards' io_contexts go.
template <class MakeWorkload>
void run_on_every_shard(Shared& shared, Outcome& out, const char* step, MakeWorkload make_workload) {
  const Window win = window_from_now(shared.cfg);
  LoadRun run = make_shards(shared, win.measure_start, win.measure_end);
  auto workload = make_workload();
  for (std::size_t s = 0; s < run.shards.size(); ++s) {
    workload.attach(*run.shards[s], run.workers_of[s]);
  }
  shared.phase = step;
  drive(shared, run, workload, win.load_start, win.measure_end);
  merge_shards(run, out);
  out.main_step = step;
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
  const std::string token = second->token;
  run_on_every_shard(shared, out, "status", [&] {
    return FixedGetWorkload("status", "/api/queue/status", token, static_cast<std::size_t>(shared.cfg.concurrency));
  });
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
  run_on_every_shard(shared, out, "seats", [&] {
    return FixedGetWorkload("seats", "/api/concerts/" + std::to_string(concert) + "/seats", "",
                            static_cast<std::size_t>(shared.cfg.concurrency));
  });
}

void scenario_token(Shared& shared, Outcome& out) {
  run_on_every_shard(shared, out, "token",
                     [&] { return TokenWorkload(static_cast<std::size_t>(shared.cfg.concurrency)); });
}

/// Drives shard s with workloads[s] (workloads that keep per-shard state: seat sources, facts),
/// each shard on its own thread but the first, which runs on this one; the shards come back
/// into `run` for merging.
template <class ShardWorkload>
void drive_each_shard(Shared& shared, LoadRun& run, std::vector<std::unique_ptr<ShardWorkload>>& workloads,
                      const Window& win) {
  std::vector<LoadRun> singles(run.shards.size());
  for (std::size_t s = 0; s < run.shards.size(); ++s) {
    singles[s].shards.push_back(std::move(run.shards[s]));
    singles[s].workers_of.push_back(run.workers_of[s]);
  }
  std::vector<std::thread> threads;
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
  drive_each_shard(shared, run, workloads, win);
  merge_shards(run, out);
  out.extra["concerts_created"] = shared.concerts_created.load();
  out.main_step = "hold";
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
  drive_each_shard(shared, run, workloads, win);
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

}  // namespace concertd::bench
