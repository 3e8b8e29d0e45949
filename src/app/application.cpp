#include "app/application.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>

namespace concertd {

namespace asio = boost::asio;

namespace {

constexpr Millis kQueueTickEvery{100};
/// The API promises a setting changed on one instance is applied on every other within a second.
constexpr Millis kRoomRefreshEvery{500};
constexpr Millis kReleaseEvery{250};
constexpr Seconds kPurgeEvery{60};
constexpr Millis kPurgeAge = std::chrono::hours(24);
static_assert(kPurgeAge >= kIdempotencyWindow, "a success stays recorded for the whole idempotency window");

}  // namespace

/// The background jobs' shared stop: each job's timer is listed, so that a stop cuts its sleep
/// short; a step already running is finished first.
struct Application::Jobs {
  explicit Jobs(const asio::any_io_executor& executor) : finished(executor) {}
  bool stopping = false;
  int running = 0;
  std::vector<asio::steady_timer*> timers;
  asio::steady_timer finished;  // stop() waits on it until `running` is 0
};

namespace {

/// Runs `step` every `period` until the jobs stop. A failing step is logged when it starts
/// failing, every 100th failure after that, and when it recovers: an outage of the store or of
/// Redis must not flood the log ten times a second.
template <class Step>
asio::awaitable<void> every(std::shared_ptr<Application::Jobs> jobs, Millis period, const char* name, Step step) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  ++jobs->running;
  jobs->timers.push_back(&timer);
  std::uint64_t failures_in_a_row = 0;
  while (!jobs->stopping) {
    timer.expires_after(period);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (jobs->stopping) {
      break;
    }
    try {
      co_await step();
      if (failures_in_a_row > 0) {
        spdlog::info("{}: recovered after {} failed runs", name, failures_in_a_row);
        failures_in_a_row = 0;
      }
    } catch (const std::exception& e) {
      if (failures_in_a_row++ % 100 == 0) {
        spdlog::warn("{}: {} (failed {} times in a row)", name, e.what(), failures_in_a_row);
      }
    }
  }
  std::erase(jobs->timers, &timer);
  --jobs->running;
  jobs->finished.cancel();
}

/// Three concerts 7, 14 and 30 days ahead, 50 seats each, priced in three tiers.
asio::awaitable<void> seed_demo(ConcertService& concerts, Store& store, const Clock& clock) {
  if (co_await store.count_concerts() > 0) {
    co_return;
  }
  const Date today = date_of(clock.now());
  const struct {
    const char* title;
    const char* venue;
    int days_ahead;
  } demos[] = {{"IU 콘서트 2026", "KSPO DOME", 7},
               {"BTS 월드투어 서울", "잠실종합운동장 주경기장", 14},
               {"NewJeans Fan Meeting", "고척스카이돔", 30}};
  for (const auto& d : demos) {
    ConcertDraft draft;
    draft.title = d.title;
    draft.venue = d.venue;
    draft.date = format_date(Date{today.days_since_epoch + d.days_ahead});
    std::vector<Money> prices;
    for (int seat = 1; seat <= 50; ++seat) {
      prices.push_back(seat <= 10 ? 150'000 : seat <= 30 ? 100'000 : 50'000);
    }
    draft.prices = std::move(prices);
    const ConcertId id = co_await concerts.create(std::move(draft));
    spdlog::info("demo concert {} created: {} on {}", id, d.title,
                 format_date(Date{today.days_since_epoch + d.days_ahead}));
  }
}

}  // namespace

Application::Application(Store& store, Coordinator& coordinator, const Clock& clock, const ServiceConfig& config,
                         std::string admin_key, http::Metrics& metrics, http::EdgeConfig edge)
    : _store(store),
      _coordinator(coordinator),
      _clock(clock),
      _room(store, coordinator, clock, RoomSettings{config.max_active}),
      _queue(store, coordinator, clock, config, _room),
      _concerts(store, clock),
      _reservations(store, coordinator, _concerts, clock, config),
      _balances(store, clock),
      _payments(store, coordinator, clock),
      _idempotency(store, coordinator, clock),
      _expiry(store, clock),
      _edge(std::move(edge)),
      _app{_queue,
           _room,
           _concerts,
           _reservations,
           _balances,
           _payments,
           _idempotency,
           metrics,
           _edge,
           _assets,
           clock,
           std::move(admin_key),
           [this]() -> asio::awaitable<bool> { co_return co_await _store.ping() && co_await _coordinator.ping(); }} {
  http::add_queue_routes(_router, _app);
  http::add_concert_routes(_router, _app);
  http::add_reservation_routes(_router, _app);
  http::add_balance_routes(_router, _app);
  http::add_payment_routes(_router, _app);
  http::add_admin_routes(_router, _app);
  http::add_ops_routes(_router, _app);
  http::add_page_routes(_router, _app);
}

asio::awaitable<void> Application::prepare(bool demo, RoomStart room) {
  co_await _room.start(room.explicit_flags);
  co_await _queue.load_token_keys(std::move(room.token_keys));
  co_await _queue.restore();
  if (demo) {
    co_await seed_demo(_concerts, _store, _clock);
  }
}

void Application::start_background_jobs(const asio::any_io_executor& executor) {
  _jobs = std::make_shared<Jobs>(executor);
  const auto spawn = [&](Millis period, const char* name, auto step) {
    asio::co_spawn(executor, every(_jobs, period, name, std::move(step)), asio::detached);
  };
  spawn(kQueueTickEvery, "queue tick", [this] { return _queue.tick(); });
  spawn(WaitingRoom::kOpeningCheckEvery, "opening", [this] { return _room.open_if_due(); });
  spawn(kRoomRefreshEvery, "waiting room settings", [this] { return _room.refresh(); });
  spawn(kReleaseEvery, "release expired holds", [this]() -> asio::awaitable<void> { co_await _expiry.run_once(); });
  spawn(Millis{kPurgeEvery}, "purge",
        [this]() -> asio::awaitable<void> { co_await _store.purge(_clock.now() - kPurgeAge); });
}

asio::awaitable<void> Application::stop_background_jobs() {
  if (!_jobs) {
    co_return;
  }
  _jobs->stopping = true;
  for (asio::steady_timer* timer : _jobs->timers) {
    timer->cancel();
  }
  // A running step ends within the store's and the coordinator's own time limits.
  while (_jobs->running > 0) {
    _jobs->finished.expires_at(asio::steady_timer::time_point::max());
    co_await _jobs->finished.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> Application::run_jobs_once() {
  co_await _room.open_if_due();
  co_await _queue.tick();
  co_await _expiry.run_once();
}

}  // namespace concertd
