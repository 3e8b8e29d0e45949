#include "app/wiring.hpp"

#include <csignal>
#include <filesystem>
#include <iostream>

#include <boost/asio.hpp>
#include <spdlog/spdlog.h>

#include "adapters/memory/memory_coordinator.hpp"
#include "adapters/postgres/pg_store.hpp"
#include "adapters/redis/redis_coordinator.hpp"
#include "adapters/sqlite/sqlite_store.hpp"
#include "domain/random.hpp"
#include "http/handlers/app.hpp"
#include "http/server.hpp"
#include "services/expiry_service.hpp"

namespace concertd {

namespace asio = boost::asio;

namespace {

constexpr Millis kQueueTickEvery{100};
constexpr Millis kReleaseEvery{250};
constexpr Seconds kPurgeEvery{60};
constexpr Millis kPurgeAge = std::chrono::hours(24);
/// PostgreSQL connections per instance: enough to keep the database busy from one event loop.
constexpr std::size_t kPostgresPoolSize = 16;

/// Runs `step` every `period` until the io_context stops. A failing step is logged when it
/// starts failing, every 100th failure after that, and when it recovers: an outage of the
/// store or of Redis must not flood the log ten times a second.
template <class Step>
asio::awaitable<void> every(Millis period, const char* name, Step step) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  std::uint64_t failures_in_a_row = 0;
  for (;;) {
    timer.expires_after(period);
    co_await timer.async_wait(asio::use_awaitable);
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
    spdlog::info("demo concert {} created: {} on {}", id, d.title, format_date(Date{today.days_since_epoch + d.days_ahead}));
  }
}

}  // namespace

int serve(const Config& cfg) {
  if (!cfg.postgres) {
    std::error_code fs_error;
    std::filesystem::create_directories(cfg.data_dir, fs_error);
    if (fs_error) {
      std::cerr << "concertd: cannot create data dir " << cfg.data_dir << ": " << fs_error.message() << "\n";
      return 2;
    }
  }

  SystemClock clock;
  http::Metrics metrics;
  ServiceConfig service_config{cfg.max_active, Seconds{cfg.active_ttl}, Seconds{cfg.waiting_idle_ttl},
                               Seconds{cfg.hold_ttl}, static_cast<int>(cfg.max_holds_per_user)};
  const QueueLimits limits{cfg.max_active, service_config.active_ttl, service_config.waiting_idle_ttl,
                           service_config.hold_ttl};
  asio::io_context io(1);

  // One Store and one Coordinator, each chosen by its own flag: --postgres and --redis.
  const ReleaseListener on_release = [&metrics](const Reservation& hold) {
    metrics.count_release();
    spdlog::info("AUTO_RELEASE reservation={} concert={} seat={} user={} reason=EXPIRED", hold.id, hold.concert_id,
                 hold.seat_number, hold.user_id);
  };
  std::unique_ptr<Store> store_owner;
  postgres::PgStore* pg = nullptr;
  if (cfg.postgres) {
    auto owned = std::make_unique<postgres::PgStore>(io.get_executor(), *cfg.postgres, kPostgresPoolSize, on_release);
    pg = owned.get();
    store_owner = std::move(owned);
  } else {
    try {
      store_owner = std::make_unique<sqlite::SqliteStore>(
          (std::filesystem::path(cfg.data_dir) / "concertd.db").string(), on_release);
    } catch (const std::exception& e) {
      std::cerr << "concertd: cannot open the store in " << cfg.data_dir << ": " << e.what() << "\n";
      return 1;
    }
  }
  std::unique_ptr<Coordinator> coordinator_owner;
  redis::RedisCoordinator* rc = nullptr;
  if (cfg.redis) {
    auto owned = std::make_unique<redis::RedisCoordinator>(io.get_executor(), *cfg.redis, limits, clock);
    rc = owned.get();
    coordinator_owner = std::move(owned);
  } else {
    coordinator_owner = std::make_unique<MemoryCoordinator>(limits, clock);
  }
  Store& store = *store_owner;
  Coordinator& coordinator = *coordinator_owner;

  QueueService queue(store, coordinator, clock, service_config);
  ConcertService concerts(store, coordinator, clock);
  ReservationService reservations(store, coordinator, concerts, clock, service_config);
  BalanceService balances(store, coordinator, clock);
  PaymentService payments(store, coordinator, balances, clock);
  IdempotencyKeys idempotency(store, coordinator, clock);
  ExpiryService expiry(store, clock);

  const std::string admin_key = cfg.admin_key.value_or(random_base64url(24));
  if (!cfg.admin_key) {
    std::cout << "admin key: " << admin_key << std::endl;
  }

  http::App app{queue, concerts, reservations, balances, payments, idempotency, metrics, clock, admin_key,
                cfg.max_active, [&]() -> asio::awaitable<bool> {
                  co_return co_await store.ping() && co_await coordinator.ping();
                }};
  http::Router router;
  http::add_queue_routes(router, app);
  http::add_concert_routes(router, app);
  http::add_reservation_routes(router, app);
  http::add_balance_routes(router, app);
  http::add_payment_routes(router, app);
  http::add_admin_routes(router, app);
  http::add_ops_routes(router, app);

  http::Server server(io, router, metrics,
                      http::ServerLimits{static_cast<std::size_t>(cfg.max_body), 16 * 1024, Seconds{10}, Seconds{30},
                                         Seconds{60}});
  int exit_code = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        if (pg) {
          co_await pg->start();
        }
        if (rc) {
          co_await rc->start();
        }
        // The line is rebuilt before the first request, so that nobody is placed against a
        // half-restored queue.
        co_await queue.restore();
        if (cfg.demo) {
          co_await seed_demo(concerts, store, clock);
        }
        server.listen(cfg.host, cfg.port);
        spdlog::info("concertd listening on {}:{} (store: {}, coordination: {})", cfg.host, server.port(),
                     cfg.postgres ? "postgresql" : "sqlite in " + cfg.data_dir, cfg.redis ? "redis" : "in process");
        auto ex = co_await asio::this_coro::executor;
        asio::co_spawn(ex, every(kQueueTickEvery, "queue tick", [&] { return queue.tick(); }), asio::detached);
        asio::co_spawn(ex, every(kReleaseEvery, "release expired holds", [&]() -> asio::awaitable<void> {
                         co_await expiry.run_once();
                       }), asio::detached);
        asio::co_spawn(ex, every(Millis{kPurgeEvery}, "purge", [&]() -> asio::awaitable<void> {
                         co_await store.purge(clock.now() - kPurgeAge);
                       }), asio::detached);
      },
      [&](std::exception_ptr failure) {
        if (failure) {
          try {
            std::rethrow_exception(failure);
          } catch (const std::exception& e) {
            spdlog::critical("start failed: {}", e.what());
          }
          exit_code = 1;
          io.stop();
        }
      });

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int sig) {
    spdlog::info("signal {}: stopping", sig);
    io.stop();
  });
  std::signal(SIGPIPE, SIG_IGN);
  io.run();
  return exit_code;
}

}  // namespace concertd
