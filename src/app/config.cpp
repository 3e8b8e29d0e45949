#include "app/config.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

#include <toml++/toml.h>
#include <CLI/CLI.hpp>
#include <boost/asio/ip/address.hpp>

#include "adapters/postgres/pg_pool.hpp"
#include "adapters/redis/redis_protocol.hpp"
#include "domain/assert.hpp"
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

/// The line's and the holds' limits.
void add_service_options(CLI::App& serve, Config& cfg) {
  serve
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
  add_seconds(serve, "--shutdown-timeout", "SHUTDOWN_TIMEOUT", cfg.server.shutdown_timeout,
              "seconds a stop (SIGTERM, SIGINT) waits for the requests in flight", kTimeoutSeconds);
  serve.add_flag("--demo,!--no-demo", cfg.demo, "create three demo concerts on an empty store (default on)")
      ->envname(env("DEMO"));
}

/// What the process logs, and how.
void add_log_options(CLI::App& serve, Config& cfg) {
  serve.add_option("--log-format", cfg.log.format, "auto (json unless the output is a terminal), text or json")
      ->envname(env("LOG_FORMAT"))
      ->check(CLI::IsMember({"auto", "text", "json"}))
      ->capture_default_str();
  serve.add_option("--log-level", cfg.log.level, "trace, debug, info, warn, error, critical or off")
      ->envname(env("LOG_LEVEL"))
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  serve.add_flag("--access-log,!--no-access-log", cfg.log.access, "one log line per request (default on)")
      ->envname(env("ACCESS_LOG"));
}

/// --config: the TOML file whose keys are the long flag names. Its values are applied under the
/// environment's and the command line's (see parse_config).
void add_config_option(CLI::App& command, Config& cfg) {
  command
      .add_option("--config", cfg.config_file,
                  "TOML file of settings, keyed by the long flag names (port = 8080); flags and variables win over it")
      ->envname(env("CONFIG"));
}

/// `concertd` alone, or with flags only, means `concertd serve ...`. Reversed, as CLI11 takes it.
std::vector<std::string> command_args(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    args.emplace_back(argv[i]);
  }
  if (args.empty() ||
      (args[0] != "serve" && args[0] != "config" && args[0] != "backup" && args[0] != "--help" && args[0] != "-h")) {
    args.insert(args.begin(), "serve");
  }
  std::reverse(args.begin(), args.end());
  return args;
}

/// The command line, bound to one Config: `serve` and `config`, each with every flag.
struct Cli {
  CLI::App app{"concertd: concert ticketing server"};
  CLI::App* serve = nullptr;
  CLI::App* print = nullptr;
  CLI::App* backup = nullptr;

  explicit Cli(Config& cfg) {
    app.name("concertd");
    serve = app.add_subcommand("serve", "start the server (the default)");
    print = app.add_subcommand(
        "config", "print the configuration serve would run with, as TOML (secrets masked); it opens nothing");
    backup = app.add_subcommand(
        "backup", "copy the SQLite store of data-dir to --to while a server may run on it (SQLite's VACUUM INTO)");
    backup->add_option("--to", cfg.backup_to, "the copy's path; it must not exist yet")->required();
    app.require_subcommand(1);
    for (CLI::App* command : {serve, print, backup}) {
      // Both commands write the same Config. Without a completion callback CLI11 reads the
      // environment for every subcommand, chosen or not, and the other command's variables would
      // overwrite the chosen one's flags; with one, only the chosen command reads it.
      command->parse_complete_callback([] {});
      add_engine_options(*command, cfg);
      add_service_options(*command, cfg);
      add_edge_options(*command, cfg);
      add_log_options(*command, cfg);
      add_config_option(*command, cfg);
    }
  }

  /// The subcommand a parse chose.
  CLI::App& chosen() { return print->parsed() ? *print : backup->parsed() ? *backup : *serve; }

  /// Parses `args` (reversed, as CLI11 takes them). Returns the exit code after help or a bad
  /// flag or variable (its message on `err`), nullopt to go on.
  std::optional<int> parse(std::vector<std::string> args, std::ostream& help, std::ostream& err) {
    try {
      app.parse(args);
    } catch (const CLI::CallForHelp& e) {
      return app.exit(e, help, err);
    } catch (const CLI::CallForAllHelp& e) {
      return app.exit(e, help, err);
    } catch (const CLI::ParseError& e) {
      app.exit(e, help, err);
      return 2;
    }
    return std::nullopt;
  }

  /// Leaves the environment out of the next parse: what is given then came from the command line.
  void ignore_environment() {
    for (CLI::App* command : {serve, print}) {
      for (CLI::Option* option : command->get_options()) {
        option->envname("");
      }
    }
  }
};

// ---- the keys of the file and of `concertd config` ---------------------------------------------

/// The TOML type a key's value must have in the file.
enum class Kind { text, integer, seconds, boolean, list };

/// One key: its name (the long flag's), its type, and the value a Config holds for it as TOML
/// text (masked for a secret), or nullopt when it is not set.
struct Setting {
  std::string_view key;
  Kind kind;
  std::optional<std::string> toml;
  /// For a key that may be unset: what that means, for `concertd config`'s comment.
  std::string_view unset = {};
};

/// A TOML basic string.
std::string toml_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      std::array<char, 8> escape{};
      std::snprintf(escape.data(), escape.size(), "\\u%04X", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += escape.data();
    } else {
      out += c;
    }
  }
  return out + '"';
}

std::string masked_token_keys(std::string_view text) {
  const auto parsed = parse_token_keys(text);
  const auto* keys = std::get_if<std::vector<TokenKey>>(&parsed);
  if (keys == nullptr) {
    return std::string(kMask);  // refused when it was read; nothing of it is shown
  }
  std::string out;
  for (const TokenKey& key : *keys) {
    out += (out.empty() ? "" : ",") + key.id + ":" + std::string(kMask);
  }
  return out;
}

Setting text(std::string_view key, const std::string& value) { return {key, Kind::text, toml_string(value)}; }

Setting optional_text(std::string_view key, const std::optional<std::string>& value, std::string_view unset,
                      std::string (*mask)(std::string_view) = nullptr) {
  if (!value) {
    return {key, Kind::text, std::nullopt, unset};
  }
  return {key, Kind::text, toml_string(mask != nullptr ? mask(*value) : *value), unset};
}

Setting secret(std::string_view key, const std::optional<std::string>& value, std::string_view unset) {
  return {key, Kind::text, value ? std::optional(toml_string(kMask)) : std::nullopt, unset};
}

Setting number(std::string_view key, std::int64_t value) { return {key, Kind::integer, std::to_string(value)}; }

Setting seconds(std::string_view key, Seconds value) { return {key, Kind::seconds, std::to_string(value.count())}; }

Setting list(std::string_view key, const std::vector<std::string>& items) {
  std::string out = "[";
  for (const std::string& item : items) {
    out += (out.size() > 1 ? ", " : "") + toml_string(item);
  }
  return {key, Kind::list, out + "]"};
}

/// Every key, in the order of `serve --help`. A new flag gets its line here (parse_config asserts
/// that every flag has one).
std::vector<Setting> settings(const Config& c) {
  return {
      text("host", c.host),
      number("port", c.port),
      text("data-dir", c.data_dir),
      optional_text("postgres", c.postgres, "SQLite in data-dir", mask_postgres_password),
      optional_text("redis", c.redis, "the line, locks and caches in process"),
      number("max-active", c.service.max_active),
      seconds("active-ttl", c.service.active_ttl),
      seconds("waiting-idle-ttl", c.service.waiting_idle_ttl),
      seconds("hold-ttl", c.service.hold_ttl),
      number("max-holds-per-user", c.service.max_holds_per_user),
      number("max-body", static_cast<std::int64_t>(c.server.max_body)),
      secret("admin-key", c.admin_key, "random, printed at start"),
      secret("user-auth-secret", c.edge.user_auth_secret, "X-User-Auth is not checked"),
      optional_text("token-keys", c.token_keys, "made once, kept in the store", masked_token_keys),
      number("rate-limit", c.edge.token_issues_per_second),
      list("trusted-proxies", c.edge.trusted_proxies),
      number("max-connections", c.server.max_connections),
      seconds("header-timeout", c.server.header_timeout),
      seconds("body-timeout", c.server.body_timeout),
      seconds("idle-timeout", c.server.idle_timeout),
      seconds("shutdown-timeout", c.server.shutdown_timeout),
      {"demo", Kind::boolean, c.demo ? "true" : "false"},
      text("log-format", c.log.format),
      text("log-level", c.log.level),
      {"access-log", Kind::boolean, c.log.access ? "true" : "false"},
  };
}

/// The switch `--no-demo`, which the file may also name: `no-demo = true` is `demo = false`.
constexpr std::string_view kNoDemo = "no-demo";

/// A key of the file: the setting it sets, and whether its value is that setting's negation.
struct FileKey {
  std::string_view key;
  Kind kind;
  bool negated = false;
};

std::optional<FileKey> find_key(std::string_view name) {
  if (name == kNoDemo) {
    return FileKey{"demo", Kind::boolean, true};
  }
  for (const Setting& setting : settings(Config{})) {
    if (setting.key == name) {
      return FileKey{setting.key, setting.kind};
    }
  }
  return std::nullopt;
}

/// Every flag of `command` (but help and --config) is a key of the file and of the output.
void assert_every_flag_is_a_key(const CLI::App& command) {
  for (const CLI::Option* option : command.get_options()) {
    const std::string name = option->get_single_name();
    CONCERTD_ASSERT(name == "help" || name == "config" || name == "to" || find_key(name).has_value(),
                    "every flag has its line in settings(): the file reads it and `concertd config` prints it");
  }
}

// ---- the file ------------------------------------------------------------------------------------

/// A file that cannot be used: the message names the file, and the key and line when there is one.
class FileProblem : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A config file is a few dozen lines: past this size it is something else (a log, a database),
/// named by mistake, and it is refused before it is parsed.
constexpr std::size_t kMaxConfigFileBytes = std::size_t{1} << 20;

struct CloseFile {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

std::string read_config_file(const std::string& path) {
  const std::unique_ptr<std::FILE, CloseFile> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    throw FileProblem("cannot read config file " + path + ": " + std::strerror(errno));
  }
  std::string text(kMaxConfigFileBytes + 1, '\0');
  const std::size_t size = std::fread(text.data(), 1, text.size(), file.get());
  if (std::ferror(file.get()) != 0) {
    throw FileProblem("cannot read config file " + path + ": " + std::strerror(errno));
  }
  if (size > kMaxConfigFileBytes) {
    throw FileProblem("config file " + path + " is over " + std::to_string(kMaxConfigFileBytes) + " bytes");
  }
  text.resize(size);
  return text;
}

toml::table parse_toml(const std::string& text, const std::string& path) {
  try {
    return toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    const toml::source_position& at = e.source().begin;
    throw FileProblem("cannot parse config file " + path + ": " + std::string(e.description()) + " (line " +
                      std::to_string(at.line) + ", column " + std::to_string(at.column) + ")");
  }
}

std::string on_line(const toml::source_region& source) {
  return source.begin.line > 0 ? " (line " + std::to_string(source.begin.line) + ")" : "";
}

std::string_view wanted(Kind kind) {
  switch (kind) {
    case Kind::text:
      return "must be a string";
    case Kind::integer:
      return "must be an integer";
    case Kind::seconds:
      return "must be an integer (whole seconds)";
    case Kind::boolean:
      return "must be true or false";
    case Kind::list:
      return "must be an array of strings or a comma-separated string";
  }
  CONCERTD_UNREACHABLE("a Kind");
}

std::string_view type_name(toml::node_type type) {
  switch (type) {
    case toml::node_type::none:
      return "nothing";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
  }
  CONCERTD_UNREACHABLE("a toml::node_type");
}

/// `node` as the strings its flag takes on the command line, or nullopt when its TOML type is not
/// the one `kind` wants.
std::optional<std::vector<std::string>> flag_values(const toml::node& node, Kind kind) {
  if (kind == Kind::text || kind == Kind::list) {
    if (const auto text = node.value_exact<std::string>()) {
      return std::vector<std::string>{*text};
    }
  }
  if (kind == Kind::integer || kind == Kind::seconds) {
    if (const auto integer = node.value_exact<std::int64_t>()) {
      return std::vector<std::string>{std::to_string(*integer)};
    }
  }
  if (kind == Kind::boolean) {
    if (const auto boolean = node.value_exact<bool>()) {
      return std::vector<std::string>{*boolean ? "true" : "false"};
    }
  }
  const toml::array* array = node.as_array();
  if (kind != Kind::list || array == nullptr) {
    return std::nullopt;
  }
  std::vector<std::string> items;
  for (const toml::node& item : *array) {
    const auto text = item.value_exact<std::string>();
    if (!text) {
      return std::nullopt;
    }
    items.push_back(*text);
  }
  return items;
}

/// CLI11's message without the flag it starts with ("--hold-ttl: Value 0 not in range ..."): the
/// file's message names the key instead.
std::string without_flag(std::string message, std::string_view key) {
  const std::string prefix = "--" + std::string(key) + ": ";
  return message.starts_with(prefix) ? message.substr(prefix.size()) : message;
}

/// Sets one key of the file through its flag's option, with the flag's own checks.
void apply_key(CLI::App& command, const std::string& path, const toml::key& name, const toml::node& node, Config& cfg) {
  const std::optional<FileKey> key = find_key(name.str());
  if (!key) {
    throw FileProblem("unknown key `" + std::string(name.str()) + "` in " + path + on_line(name.source()));
  }
  const std::string where = "`" + std::string(name.str()) + "` in " + path + on_line(name.source());
  std::optional<std::vector<std::string>> values = flag_values(node, key->kind);
  if (!values) {
    throw FileProblem(where + ": " + std::string(wanted(key->kind)) + ", not " + std::string(type_name(node.type())));
  }
  if (key->negated) {
    values->front() = values->front() == "true" ? "false" : "true";
  }
  if (cfg.origin(key->key) == Origin::file) {
    throw FileProblem(where + ": `demo` and `no-demo` are both set");
  }
  CLI::Option* option = command.get_option_no_throw("--" + std::string(key->key));
  CONCERTD_ASSERT(option != nullptr, "every key of settings() is a flag");
  try {
    for (std::string& value : *values) {
      option->add_result(std::move(value));
    }
    if (option->count() > 0) {  // an empty list leaves the default (none)
      option->run_callback();
    }
  } catch (const CLI::Error& e) {
    throw FileProblem(where + ": " + without_flag(e.what(), key->key));
  }
  cfg.origins[std::string(key->key)] = Origin::file;
}

/// Reads the file into `cfg`, every value through its flag's checks. Throws FileProblem.
void apply_file(const std::string& path, Config& cfg) {
  const toml::table table = parse_toml(read_config_file(path), path);
  std::vector<std::pair<const toml::key*, const toml::node*>> entries;
  for (const auto& [name, node] : table) {
    entries.emplace_back(&name, &node);
  }
  // In the file's order, so that the first problem reported is the first one in the file.
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.first->source().begin < b.first->source().begin; });
  Cli cli(cfg);  // a fresh one: no flag has a value yet
  for (const auto& [name, node] : entries) {
    apply_key(*cli.serve, path, *name, *node, cfg);
  }
}

// ---- where each value came from ------------------------------------------------------------------

/// Raises to `origin` every key whose flag has a value in `command` after a parse.
void note_given(const CLI::App& command, Origin origin, Config& cfg) {
  for (const Setting& setting : settings(Config{})) {
    const CLI::Option* option = command.get_option_no_throw("--" + std::string(setting.key));
    if (option != nullptr && option->count() > 0 && cfg.origin(setting.key) < origin) {
      cfg.origins[std::string(setting.key)] = origin;
    }
  }
}

std::string env_name(std::string_view key) {
  std::string name = env("");
  for (const char c : key) {
    name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

std::string origin_text(const Config& cfg, std::string_view key) {
  switch (cfg.origin(key)) {
    case Origin::default_value:
      return "default";
    case Origin::file:
      return "file";
    case Origin::env:
      return "env " + env_name(key);
    case Origin::flag:
      return "flag";
  }
  CONCERTD_UNREACHABLE("an Origin");
}

/// A secret that is the mask was copied from `concertd config`'s output: a server would run with a
/// key anybody can guess. `serve` refuses it; `concertd config` reads it, so that its output loads.
std::optional<std::string_view> masked_secret(const Config& cfg) {
  if (cfg.admin_key == kMask) {
    return "admin-key";
  }
  if (cfg.edge.user_auth_secret == kMask) {
    return "user-auth-secret";
  }
  return std::nullopt;
}

}  // namespace

std::string mask_postgres_password(std::string_view uri) {
  std::string out(uri);
  const auto scheme = out.find("://");
  if (scheme == std::string::npos) {
    return out;
  }
  // As libpq reads it: user[:password]@ when an '@' comes before the first '/'.
  std::size_t host = scheme + 3;
  const auto at = out.find_first_of("@/", host);
  if (at != std::string::npos && out[at] == '@') {
    const auto colon = out.find(':', host);
    if (colon < at) {
      out.replace(colon + 1, at - colon - 1, kMask);
    }
    host = out.find('@', host) + 1;
  }
  // and password=... among the parameters after '?'.
  constexpr std::string_view kPassword = "password=";
  for (auto param = out.find('?', host); param != std::string::npos; param = out.find('&', param)) {
    ++param;
    if (std::string_view(out).substr(param).starts_with(kPassword)) {
      const auto value = param + kPassword.size();
      const auto end = out.find('&', value);
      out.replace(value, end == std::string::npos ? std::string::npos : end - value, kMask);
    }
  }
  return out;
}

std::optional<int> parse_config(int argc, char** argv, Config& cfg, std::ostream& help, std::ostream& err) {
  const std::vector<std::string> args = command_args(argc, argv);
  // 1. The command line and the environment alone: help, a bad flag or variable, which command,
  // which file.
  Config given;
  Cli first(given);
  if (auto exit_code = first.parse(args, help, err)) {
    return exit_code;
  }
  assert_every_flag_is_a_key(*first.serve);
  cfg.command = first.print->parsed()    ? Command::print_config
                : first.backup->parsed() ? Command::backup
                                         : Command::serve;
  // 2. The file, under the defaults' values.
  if (given.config_file) {
    try {
      apply_file(*given.config_file, cfg);
    } catch (const FileProblem& e) {
      err << e.what() << "\n";
      return 2;
    }
  }
  // 3. The environment and the command line over the file's values: each writes only the
  // settings it gives.
  Cli last(cfg);
  if (auto exit_code = last.parse(args, help, err)) {
    return exit_code;
  }
  note_given(last.chosen(), Origin::env, cfg);
  Config flags_only;
  Cli command_line(flags_only);
  command_line.ignore_environment();
  if (auto exit_code = command_line.parse(args, help, err)) {
    return exit_code;
  }
  note_given(command_line.chosen(), Origin::flag, cfg);
  cfg.max_active_given = cfg.origin("max-active") != Origin::default_value;
  if (const auto key = masked_secret(cfg); key && cfg.command == Command::serve) {
    err << "--" << *key << " is `" << kMask << "` (" << origin_text(cfg, *key)
        << "), the mask of `concertd config`: give the real secret\n";
    return 2;
  }
  return std::nullopt;
}

std::string config_toml(const Config& cfg) {
  /// The column the comments start at, so that they line up.
  constexpr std::size_t kCommentColumn = 48;
  std::string out =
      "# The configuration `concertd serve` runs with, given the same flags, environment and --config\n"
      "# file; --config loads this text. Secrets are shown as " +
      std::string(kMask) + ": put them back before serving with it.\n";
  for (const Setting& setting : settings(cfg)) {
    if (!setting.toml) {  // only a default leaves a key unset
      out += "# " + std::string(setting.key) + " is not set (default): " + std::string(setting.unset) + "\n";
      continue;
    }
    std::string line = std::string(setting.key) + " = " + *setting.toml;
    line.resize(std::max(line.size() + 2, kCommentColumn), ' ');
    out += line + "# " + origin_text(cfg, setting.key) + "\n";
  }
  return out;
}

}  // namespace concertd
