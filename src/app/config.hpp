#pragma once
// Flags of `concertd serve`, each also read from CONCERTD_<FLAG>.
#include <cstdint>
#include <optional>
#include <string>

namespace concertd {

struct Config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string data_dir = "./data";
  std::optional<std::string> postgres;
  std::optional<std::string> redis;
  std::int64_t max_active = 100;
  /// --max-active was given (command line or environment): it overrides the stored setting.
  bool max_active_given = false;
  std::int64_t active_ttl = 600;
  std::int64_t waiting_idle_ttl = 300;
  std::int64_t hold_ttl = 300;
  std::int64_t max_holds_per_user = 4;
  std::int64_t max_body = 65'536;
  std::optional<std::string> admin_key;
  std::optional<std::string> user_auth_secret;
  std::optional<std::string> token_keys;
  std::int64_t rate_limit = 0;
  std::optional<std::string> trusted_proxies;
  std::int64_t max_connections = 10'000;
  /// Seconds to send a request's headers (from their first byte), its body (from the end of the
  /// headers), and seconds a keep-alive connection may idle between requests.
  std::int64_t header_timeout = 10;
  std::int64_t body_timeout = 30;
  std::int64_t idle_timeout = 60;
  bool demo = true;
};

/// Parses argv. Returns the exit code to stop with (0 after --help, 2 for a bad flag), or
/// nullopt to go on serving with `out`.
std::optional<int> parse_config(int argc, char** argv, Config& out);

}  // namespace concertd
