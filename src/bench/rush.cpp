// rush: fans arriving over --arrival seconds, each a coroutine, sharing a bounded pool of
// connections; the seat, money and FIFO invariants checked at the end.
#include <algorithm>
#include <deque>
#include <iostream>
#include <map>
#include <random>

#include <boost/asio.hpp>
#include <boost/json.hpp>

#include "bench/api_calls.hpp"
#include "bench/scenario_runs.hpp"

namespace concertd::bench {

namespace {

/// The rush ends at the latest this long after the last arrival.
constexpr auto kRushDeadlineAfterArrivals = std::chrono::seconds(90);

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
      : _shard(shard),
        _pool(shard, static_cast<std::size_t>(shard.shared.cfg.concurrency)),
        _concert(concert),
        _fans(static_cast<std::size_t>(fans)),
        _deadline(deadline),
        _rng(std::random_device{}()) {
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

  // Over 70 lines: one fan's journey from token to payment in the order the diagrams draw it, each
  // step reading what the previous one left in the fan's state. The load generator's, not the
  // server's; to be split into steps with the bench's next change.
  // NOLINTNEXTLINE(readability-function-size)
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
      const auto pause =
          duration_cast<Clock::duration>(duration<double>(std::max(0.05, static_cast<double>(poll_after) * scale)));
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
    int locked = 0;  // SEAT_LOCKED answers so far: ten tries then span about two seconds
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
      if (code == "SEAT_LOCKED") {
        // Another fan is taking this seat right now, and the answer says to try again in a
        // moment: pause, longer each time, then read the map again, which by then shows how that
        // hold ended. Retrying at once, a fast client spent its ten tries within the other fan's
        // one commit when a WAL fsync stalled (a CI run: two fans failed that way).
        ++locked;
        std::uniform_int_distribution<int> pause_ms(20, 60);
        co_await _shard.sleep_until(Clock::now() + milliseconds(pause_ms(_rng) * locked));
        need_map = true;
        continue;
      }
      if (code == "SEAT_ALREADY_ASSIGNED" || ex.status == 0 || ex.status >= 500) {
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

}  // namespace

// Over 70 lines: the rush's setup (concert, prices, fans), run and checks in one reading order;
// the load generator's, to be split with its next change.
// NOLINTNEXTLINE(readability-function-size)
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
  const auto deadline =
      start + duration_cast<Clock::duration>(duration<double>(cfg.arrival_s)) + kRushDeadlineAfterArrivals;
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

}  // namespace concertd::bench
