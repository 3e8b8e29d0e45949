#include "app/wiring.hpp"

#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <iostream>

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>

#include "adapters/memory/memory_coordinator.hpp"
#include "adapters/postgres/pg_store.hpp"
#include "adapters/redis/redis_coordinator.hpp"
#include "adapters/sqlite/connection.hpp"
#include "adapters/sqlite/sqlite_store.hpp"
#include "app/application.hpp"
#include "app/logging.hpp"
#include "domain/random.hpp"
#include "http/server.hpp"

namespace concertd {

namespace asio = boost::asio;

namespace {

/// PostgreSQL connections per instance: enough to keep the database busy from one event loop.
constexpr std::size_t kPostgresPoolSize = 16;
/// Descriptors beyond client connections: store and Redis connections, the listener, logs.
constexpr rlim_t kSpareDescriptors = 256;

/// Raises the descriptor limit so that --max-connections can be reached (the usual soft limit
/// of 1024 would refuse connections long before); returns the connection cap that fits.
std::int64_t fit_descriptor_limit(std::int64_t max_connections) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return max_connections;
  }
  const rlim_t wanted = static_cast<rlim_t>(max_connections) + kSpareDescriptors;
  if (limit.rlim_cur < wanted) {
    limit.rlim_cur = std::min(wanted, limit.rlim_max);
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  const auto fits =
      static_cast<std::int64_t>(limit.rlim_cur > kSpareDescriptors ? limit.rlim_cur - kSpareDescriptors : 1);
  if (fits < max_connections) {
    spdlog::warn("descriptor limit {} allows only {} connections (--max-connections {})", limit.rlim_cur, fits,
                 max_connections);
  }
  return std::min(fits, max_connections);
}

RoomStart room_start(const Config& cfg) {
  RoomStart start;
  if (cfg.max_active_given) {
    start.explicit_flags.max_active = cfg.service.max_active;
  }
  if (cfg.token_keys) {
    // Checked when the flags were read (exit code 2 there).
    start.token_keys = std::get<std::vector<TokenKey>>(parse_token_keys(*cfg.token_keys));
  }
  return start;
}

/// The store and the coordinator the flags chose, each by its own flag (--postgres, --redis),
/// else the embedded ones. The distributed ones are started (connected) before the first request.
struct Engines {
  std::unique_ptr<Store> store;
  std::unique_ptr<Coordinator> coordinator;
  postgres::PgStore* pg = nullptr;
  redis::RedisCoordinator* redis = nullptr;
};

/// Throws when the SQLite file cannot be opened (the distributed engines connect later, in start()).
Engines open_engines(const Config& cfg, asio::io_context& io, const QueueLimits& limits, const Clock& clock,
                     const ReleaseListener& on_release) {
  Engines engines;
  if (cfg.postgres) {
    auto owned = std::make_unique<postgres::PgStore>(io.get_executor(), *cfg.postgres, kPostgresPoolSize, on_release);
    engines.pg = owned.get();
    engines.store = std::move(owned);
  } else {
    engines.store = std::make_unique<sqlite::SqliteStore>(
        (std::filesystem::path(cfg.data_dir) / sqlite::kFileName).string(), on_release);
  }
  if (cfg.redis) {
    auto owned = std::make_unique<redis::RedisCoordinator>(io.get_executor(), *cfg.redis, limits, clock);
    engines.redis = owned.get();
    engines.coordinator = std::move(owned);
  } else {
    engines.coordinator = std::make_unique<MemoryCoordinator>(limits, clock);
  }
  return engines;
}

bool make_data_dir(const std::string& data_dir) {
  std::error_code fs_error;
  std::filesystem::create_directories(data_dir, fs_error);
  if (fs_error) {
    std::cerr << "concertd: cannot create data dir " << data_dir << ": " << fs_error.message() << "\n";
    return false;
  }
  return true;
}

/// The completion of the start coroutine: a start that threw is logged and the loop stopped, so
/// that the process exits with 1 instead of serving a half-started instance.
auto stop_on_failed_start(asio::io_context& io, int& exit_code) {
  return [&io, &exit_code](const std::exception_ptr& failure) {
    if (!failure) {
      return;
    }
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      spdlog::critical("start failed: {}", e.what());
    }
    exit_code = 1;
    io.stop();
  };
}

/// Connects the engines, rebuilds the line, then listens: nobody is placed against a
/// half-restored queue.
asio::awaitable<void> start_serving(const Config& cfg, Engines& engines, Application& application,
                                    http::Server& server) {
  if (engines.pg != nullptr) {
    co_await engines.pg->start();
  }
  if (engines.redis != nullptr) {
    co_await engines.redis->start();
  }
  co_await application.prepare(cfg.demo, room_start(cfg));
  server.listen(cfg.host, cfg.port);
  spdlog::info("concertd listening on {}:{} (store: {}, coordination: {})", cfg.host, server.port(),
               cfg.postgres ? "postgresql" : "sqlite in " + cfg.data_dir, cfg.redis ? "redis" : "in process");
  application.start_background_jobs(co_await asio::this_coro::executor);
}

/// A graceful stop: the requests in flight are answered, then the background jobs finish the step
/// they are in. What the store still has queued is committed by its destructor, after this.
asio::awaitable<void> shut_down(http::Server& server, Application& application, std::chrono::seconds grace) {
  const bool drained = co_await server.drain(grace);
  co_await application.stop_background_jobs();
  if (!drained) {
    spdlog::warn("stopped with requests unanswered after {} s", grace.count());
  }
}

/// The first signal drains (shut_down) and then stops the loop; a second one exits at once.
void stop_on_signal(asio::signal_set& signals, http::Server& server, Application& application,
                    std::chrono::seconds grace) {
  signals.async_wait([&signals, &server, &application, grace](const boost::system::error_code& ec, int sig) {
    if (ec) {
      return;
    }
    spdlog::info("signal {}: draining (up to {} s; a second signal stops at once)", sig, grace.count());
    signals.async_wait([](const boost::system::error_code& again, int second) {
      if (!again) {
        spdlog::warn("signal {} while draining: exiting now", second);
        spdlog::shutdown();
        std::_Exit(128 + second);
      }
    });
    auto& io = static_cast<asio::io_context&>(signals.get_executor().context());
    asio::co_spawn(io, shut_down(server, application, grace), [&io](const std::exception_ptr&) {
      spdlog::info("stopped");
      io.stop();
    });
  });
}

}  // namespace

int serve(const Config& cfg) {
  http::AccessLog access_log = configure_logging(cfg.log);  // before the first line is logged
  if (!cfg.postgres && !make_data_dir(cfg.data_dir)) {
    return 2;
  }

  SystemClock clock;
  http::Metrics metrics;
  const QueueLimits limits = cfg.service.queue_limits();
  asio::io_context io(1);

  // One Store and one Coordinator, each chosen by its own flag: --postgres and --redis.
  const ReleaseListener on_release = [&metrics](const Reservation& hold) {
    metrics.count_release();
    spdlog::info("AUTO_RELEASE reservation={} concert={} seat={} user={} reason=EXPIRED", hold.id, hold.concert_id,
                 hold.seat_number, hold.user_id);
  };
  Engines engines;
  try {
    engines = open_engines(cfg, io, limits, clock, on_release);
  } catch (const std::exception& e) {
    std::cerr << "concertd: cannot open the store in " << cfg.data_dir << ": " << e.what() << "\n";
    return 1;
  }
  Store& store = *engines.store;
  Coordinator& coordinator = *engines.coordinator;

  const std::string admin_key = cfg.admin_key.value_or(random_base64url(24));
  if (!cfg.admin_key) {
    std::cout << "admin key: " << admin_key << std::endl;
  }
  Application application(store, coordinator, clock, cfg.service, admin_key, metrics, cfg.edge);

  http::ServerLimits server_limits = cfg.server;
  server_limits.max_connections = fit_descriptor_limit(server_limits.max_connections);
  http::Server server(io, application.router(), metrics, server_limits, std::move(access_log));
  int exit_code = 0;
  asio::co_spawn(io, start_serving(cfg, engines, application, server), stop_on_failed_start(io, exit_code));
  asio::signal_set signals(io, SIGINT, SIGTERM);
  stop_on_signal(signals, server, application, server_limits.shutdown_timeout);
  std::signal(SIGPIPE, SIG_IGN);
  io.run();
  spdlog::default_logger()->flush();
  return exit_code;
}

}  // namespace concertd
