#pragma once
// Flags of `concertd serve`, each also read from CONCERTD_<FLAG>.
#include <cstdint>
#include <optional>
#include <string>

#include "http/limits.hpp"
#include "http/server.hpp"
#include "services/config.hpp"

namespace concertd {

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
  /// --max-active was given (command line or environment): it overrides the stored setting.
  bool max_active_given = false;
  http::EdgeConfig edge;
  http::ServerLimits server;
};

/// Parses argv. Returns the exit code to stop with (0 after --help, 2 for a bad flag), or
/// nullopt to go on serving with `out`.
std::optional<int> parse_config(int argc, char** argv, Config& out);

}  // namespace concertd
