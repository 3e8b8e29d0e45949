#pragma once
// Flags of `concertd serve` and `concertd config`, each also read from CONCERTD_<FLAG> and from
// the TOML file that --config names (its keys are the long flag names).
#include <cstdint>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "app/logging.hpp"
#include "http/limits.hpp"
#include "http/server.hpp"
#include "services/config.hpp"

namespace concertd {

/// Where a setting's value came from, weakest first: a flag beats the environment, which beats
/// the file, which beats the default.
enum class Origin { default_value, file, env, flag };

/// What the command line asked for: serve, or print the effective configuration (`concertd config`).
enum class Command { serve, print_config, backup };

/// Every flag is read straight into the struct of the component that uses it; what is not a
/// component's (where to listen, the engines, the keys) is read here.
struct Config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string data_dir = "./data";
  std::optional<std::string> postgres;
  std::optional<std::string> redis;
  bool demo = true;
  std::optional<std::string> admin_key;
  std::optional<std::string> token_keys;

  ServiceConfig service;
  /// --max-active was given (command line, environment or config file): it overrides the stored
  /// setting. A default does not.
  bool max_active_given = false;
  http::EdgeConfig edge;
  http::ServerLimits server;
  LogSettings log;

  Command command = Command::serve;
  /// --config: the TOML file the values between the environment's and the defaults come from.
  std::optional<std::string> config_file;
  /// backup --to: where the copy of the SQLite store goes.
  std::optional<std::string> backup_to;
  /// Where each key's value came from, by key (the long flag name: "max-active"); a key that is
  /// not here has its default.
  std::map<std::string, Origin, std::less<>> origins;

  Origin origin(std::string_view key) const {
    const auto found = origins.find(key);
    return found == origins.end() ? Origin::default_value : found->second;
  }
};

/// Parses argv, the environment and the --config file. Returns the exit code to stop with (0
/// after --help, 2 for a bad flag, variable or file, with a message on `err`), or nullopt to go on
/// with `out.command`.
std::optional<int> parse_config(int argc, char** argv, Config& out, std::ostream& help = std::cout,
                                std::ostream& err = std::cerr);

/// `concertd config`: every key with the value it runs with, as TOML that --config loads again,
/// secrets masked, each key followed by a comment saying where its value came from.
std::string config_toml(const Config& cfg);

/// What secrets become in `concertd config`'s output.
inline constexpr std::string_view kMask = "***";

/// A postgresql:// URI with its password (in the user part or a `password=` parameter) masked:
/// `postgresql://u:***@host/db`.
std::string mask_postgres_password(std::string_view uri);

}  // namespace concertd
