#include "app/config.hpp"

#include <algorithm>
#include <iostream>
#include <limits>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/asio/ip/address.hpp>

#include "adapters/postgres/pg_pool.hpp"
#include "adapters/redis/redis_protocol.hpp"
#include "domain/token_signer.hpp"
#include "domain/waiting_room.hpp"

namespace concertd {

namespace {

std::string env(const char* name) { return std::string("CONCERTD_") + name; }

const auto kSeconds = CLI::Range(std::int64_t{1}, std::int64_t{std::numeric_limits<std::int32_t>::max()});
const auto kPositive = CLI::Range(std::int64_t{1}, std::int64_t{std::numeric_limits<std::int32_t>::max()});
/// A connection's stage timeouts (header, body, idle): 0 would close every connection at once and
/// spin its watchdog; past an hour a stalled client holds its connection slot for too long.
const auto kTimeoutSeconds = CLI::Range(std::int64_t{1}, std::int64_t{3600});
/// An item of a comma-separated list without the spaces around it.
const CLI::Validator kTrimmed(
    [](std::string& item) {
      item.erase(0, item.find_first_not_of(" \t"));
      item.erase(item.find_last_not_of(" \t") + 1);
      return std::string();
    },
    "");

/// A duration flag in whole seconds, read into `field`, which holds its default.
void add_seconds(CLI::App& serve, const char* flag, const char* env_name, Seconds& field, const char* help,
                 const CLI::Validator& range) {
  serve.add_option<Seconds, std::int64_t>(flag, field, help)
      ->envname(env(env_name))
      ->check(range)
      ->default_str(std::to_string(field.count()));
}

/// Where it listens and which engines it uses.
void add_engine_options(CLI::App& serve, Config& cfg) {
  // Values a start would only refuse later (after the migrations, with exit code 1) are checked
  // here, so that a typo stops it at once with exit code 2, as any other bad flag value.
  const CLI::Validator listen_address(
      [](std::string& host) -> std::string {
        boost::system::error_code ec;
        boost::asio::ip::make_address(host, ec);
        return ec && host != "localhost" ? "not an IP address (or localhost)" : "";
      },
      "ADDRESS");
  const CLI::Validator postgres_uri([](std::string& uri) { return postgres::uri_problem(uri); }, "URI");
  const CLI::Validator redis_url(
      [](std::string& url) -> std::string { return redis::parse_url(url) ? "" : "not a redis://host[:port][/db] URL"; },
      "URL");

  serve.add_option("--host", cfg.host, "listen address (an IP address, or localhost)")
      ->envname(env("HOST"))
      ->check(listen_address)
      ->capture_default_str();
  serve.add_option("--port", cfg.port, "listen port")->envname(env("PORT"))->capture_default_str();
  serve.add_option("--data-dir", cfg.data_dir, "embedded mode: where the SQLite file lives")
      ->envname(env("DATA_DIR"))
      ->capture_default_str();
  serve.add_option("--postgres", cfg.postgres, "postgresql:// URI: use PostgreSQL instead of SQLite")
      ->envname(env("POSTGRES"))
      ->check(postgres_uri);
  serve.add_option("--redis", cfg.redis, "redis://host:port: queue, locks and caches in Redis")
      ->envname(env("REDIS"))
      ->check(redis_url);
}

/// The line's and the holds' limits. Returns --max-active's option: whether it was given decides
/// whether it overrides the stored setting.
CLI::Option* add_service_options(CLI::App& serve, Config& cfg) {
  auto* max_active = serve
                         .add_option("--max-active", cfg.service.max_active,
                                     "active tokens at once (a start that names it overrides the stored setting)")
                         ->envname(env("MAX_ACTIVE"))
                         ->check(CLI::Range(std::int64_t{1}, kMaxActiveLimit))
                         ->capture_default_str();
  add_seconds(serve, "--active-ttl", "ACTIVE_TTL", cfg.service.active_ttl, "seconds a token stays active", kSeconds);
  add_seconds(serve, "--waiting-idle-ttl", "WAITING_IDLE_TTL", cfg.service.waiting_idle_ttl,
              "seconds a waiting token lives without a poll", kSeconds);
  add_seconds(serve, "--hold-ttl", "HOLD_TTL", cfg.service.hold_ttl, "seconds a seat hold lasts", kSeconds);
  serve.add_option("--max-holds-per-user", cfg.service.max_holds_per_user, "unexpired unpaid holds one user may have")
      ->envname(env("MAX_HOLDS_PER_USER"))
      ->check(kPositive)
      ->capture_default_str();
  return max_active;
}

/// The HTTP edge: keys, secrets, limits per request and per client, demo data.
void add_edge_options(CLI::App& serve, Config& cfg) {
  serve.add_option("--max-body", cfg.server.max_body, "request body limit in bytes")
      ->envname(env("MAX_BODY"))
      ->check(kPositive)
      ->capture_default_str();
  serve.add_option("--admin-key", cfg.admin_key, "key for /api/admin/* (random and printed when not given)")
      ->envname(env("ADMIN_KEY"));
  serve.add_option("--user-auth-secret", cfg.edge.user_auth_secret, "check X-User-Auth signed with this secret")
      ->envname(env("USER_AUTH_SECRET"));
  const CLI::Validator token_keys(
      [](std::string& text) -> std::string {
        const auto parsed = parse_token_keys(text);
        const auto* problem = std::get_if<std::string>(&parsed);
        return problem ? *problem : "";
      },
      "ID:SECRET,...");
  serve
      .add_option(
          "--token-keys", cfg.token_keys,
          "id:secret,... HMAC keys for tokens: the first signs, all verify (default: made once, kept in the store)")
      ->envname(env("TOKEN_KEYS"))
      ->check(token_keys);
  serve
      .add_option("--rate-limit", cfg.edge.token_issues_per_second,
                  "token issues per second per client address (0: off)")
      ->envname(env("RATE_LIMIT"))
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{std::numeric_limits<std::int32_t>::max()}))
      ->capture_default_str();
  serve
      .add_option("--trusted-proxies", cfg.edge.trusted_proxies,
                  "comma-separated addresses whose X-Forwarded-For names the client")
      ->envname(env("TRUSTED_PROXIES"))
      ->delimiter(',')
      ->transform(kTrimmed)
      ->allow_extra_args(false);  // one list per --trusted-proxies, as when it was one string
  serve.add_option("--max-connections", cfg.server.max_connections, "open connections at once")
      ->envname(env("MAX_CONNECTIONS"))
      ->check(kPositive)
      ->capture_default_str();
  add_seconds(serve, "--header-timeout", "HEADER_TIMEOUT", cfg.server.header_timeout,
              "seconds to send a request's headers, from their first byte", kTimeoutSeconds);
  add_seconds(serve, "--body-timeout", "BODY_TIMEOUT", cfg.server.body_timeout,
              "seconds to send a request's body, from the end of its headers", kTimeoutSeconds);
  add_seconds(serve, "--idle-timeout", "IDLE_TIMEOUT", cfg.server.idle_timeout,
              "seconds a keep-alive connection may idle between requests", kTimeoutSeconds);
  serve.add_flag("--demo,!--no-demo", cfg.demo, "create three demo concerts on an empty store (default on)")
      ->envname(env("DEMO"));
}

/// `concertd` alone, or with flags only, means `concertd serve ...`. Reversed, as CLI11 takes it.
std::vector<std::string> serve_args(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    args.emplace_back(argv[i]);
  }
  if (args.empty() || (args[0] != "serve" && args[0] != "--help" && args[0] != "-h")) {
    args.insert(args.begin(), "serve");
  }
  std::reverse(args.begin(), args.end());
  return args;
}

}  // namespace

std::optional<int> parse_config(int argc, char** argv, Config& cfg) {
  CLI::App app{"concertd: concert ticketing server"};
  app.name("concertd");
  auto* serve = app.add_subcommand("serve", "start the server (the default)");
  app.require_subcommand(1);
  add_engine_options(*serve, cfg);
  CLI::Option* max_active = add_service_options(*serve, cfg);
  add_edge_options(*serve, cfg);
  std::vector<std::string> args = serve_args(argc, argv);
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  cfg.max_active_given = max_active->count() > 0;
  return std::nullopt;
}

}  // namespace concertd
