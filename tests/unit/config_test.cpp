#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "app/config.hpp"

namespace concertd {
namespace {

/// Runs parse_config with a clean CONCERTD_* environment (the caller's is put back afterwards),
/// on files written in a temporary directory.
class ConfigTest : public testing::Test {
 protected:
  void SetUp() override {
    for (char** entry = environ; *entry != nullptr; ++entry) {
      const std::string text(*entry);
      if (text.starts_with("CONCERTD_")) {
        const auto equals = text.find('=');
        _saved.emplace_back(text.substr(0, equals), text.substr(equals + 1));
      }
    }
    for (const auto& [name, value] : _saved) {
      unsetenv(name.c_str());
    }
    _dir = std::filesystem::temp_directory_path() / ("concertd-config-test-" + std::to_string(getpid()) + "-" +
                                                     testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(_dir);
  }

  void TearDown() override {
    for (const std::string& name : _set) {
      unsetenv(name.c_str());
    }
    for (const auto& [name, value] : _saved) {
      setenv(name.c_str(), value.c_str(), 1);
    }
    std::filesystem::remove_all(_dir);
  }

  void set_env(const std::string& name, const std::string& value) {
    setenv(name.c_str(), value.c_str(), 1);
    _set.push_back(name);
  }

  std::string write(const std::string& text, const std::string& name = "concertd.toml") {
    std::string path = (_dir / name).string();
    std::ofstream(path) << text;
    return path;
  }

  /// `concertd <args>`: the exit code parse_config stops with, or nullopt; its message in `_err`.
  std::optional<int> parse(std::vector<std::string> args, Config& cfg) {
    args.insert(args.begin(), "concertd");
    std::vector<char*> argv;
    for (std::string& arg : args) {
      argv.push_back(arg.data());
    }
    _err.str("");
    std::ostringstream help;
    return parse_config(static_cast<int>(argv.size()), argv.data(), cfg, help, _err);
  }

  /// `concertd <args>` must stop with exit code 2; returns its message.
  std::string refused(const std::vector<std::string>& args) {
    Config cfg;
    const auto exit_code = parse(args, cfg);
    EXPECT_EQ(exit_code, 2) << _err.str();
    return _err.str();
  }

  std::filesystem::path _dir;
  std::ostringstream _err;

 private:
  std::vector<std::pair<std::string, std::string>> _saved;
  std::vector<std::string> _set;
};

TEST_F(ConfigTest, FlagOverEnvironmentOverFileOverDefault) {
  const std::string path = write(
      "port = 1111\n"
      "max-active = 500\n"
      "hold-ttl = 111\n"
      "data-dir = \"/from/file\"\n"
      "host = \"127.0.0.3\"\n"
      "trusted-proxies = [\"10.0.0.0/8\", \"192.168.0.1\"]\n"
      "demo = false\n");
  set_env("CONCERTD_PORT", "2222");
  set_env("CONCERTD_MAX_ACTIVE", "600");
  set_env("CONCERTD_HOST", "127.0.0.2");
  Config cfg;
  ASSERT_EQ(parse({"serve", "--config", path, "--port", "3333", "--data-dir", "/from/flag"}, cfg), std::nullopt)
      << _err.str();
  EXPECT_EQ(cfg.command, Command::serve);
  EXPECT_EQ(cfg.port, 3333);  // flag over environment over file
  EXPECT_EQ(cfg.origin("port"), Origin::flag);
  EXPECT_EQ(cfg.data_dir, "/from/flag");  // flag over file
  EXPECT_EQ(cfg.origin("data-dir"), Origin::flag);
  EXPECT_EQ(cfg.service.max_active, 600);  // environment over file
  EXPECT_EQ(cfg.origin("max-active"), Origin::env);
  EXPECT_EQ(cfg.host, "127.0.0.2");
  EXPECT_EQ(cfg.service.hold_ttl, Seconds{111});  // file over default
  EXPECT_EQ(cfg.origin("hold-ttl"), Origin::file);
  EXPECT_EQ(cfg.edge.trusted_proxies, (std::vector<std::string>{"10.0.0.0/8", "192.168.0.1"}));
  EXPECT_FALSE(cfg.demo);
  EXPECT_EQ(cfg.origin("demo"), Origin::file);
  EXPECT_EQ(cfg.service.active_ttl, Seconds{600});  // default
  EXPECT_EQ(cfg.origin("active-ttl"), Origin::default_value);
  EXPECT_TRUE(cfg.max_active_given);
}

TEST_F(ConfigTest, EnvironmentListAndSwitchOverFile) {
  const std::string path = write("trusted-proxies = \"10.0.0.1, 10.0.0.2\"\nno-demo = true\nrate-limit = 5\n");
  set_env("CONCERTD_TRUSTED_PROXIES", "1.1.1.1");
  set_env("CONCERTD_DEMO", "true");
  Config cfg;
  ASSERT_EQ(parse({"--config", path}, cfg), std::nullopt) << _err.str();
  EXPECT_EQ(cfg.edge.trusted_proxies, std::vector<std::string>{"1.1.1.1"});
  EXPECT_TRUE(cfg.demo);
  EXPECT_EQ(cfg.origin("demo"), Origin::env);
  EXPECT_EQ(cfg.edge.token_issues_per_second, 5);
}

TEST_F(ConfigTest, CommaStringAndSwitchFromFile) {
  const std::string path = write("trusted-proxies = \"10.0.0.1, 10.0.0.2\"\nno-demo = true\n");
  Config cfg;
  ASSERT_EQ(parse({"--config", path}, cfg), std::nullopt) << _err.str();
  EXPECT_EQ(cfg.edge.trusted_proxies, (std::vector<std::string>{"10.0.0.1", "10.0.0.2"}));
  EXPECT_FALSE(cfg.demo);
}

TEST_F(ConfigTest, MaxActiveFromFileIsGivenExplicitlyButADefaultIsNot) {
  Config from_file;
  ASSERT_EQ(parse({"--config", write("max-active = 7\n")}, from_file), std::nullopt) << _err.str();
  EXPECT_EQ(from_file.service.max_active, 7);
  EXPECT_TRUE(from_file.max_active_given);

  Config by_default;
  ASSERT_EQ(parse({"--config", write("port = 9000\n", "other.toml")}, by_default), std::nullopt) << _err.str();
  EXPECT_EQ(by_default.service.max_active, 100);
  EXPECT_FALSE(by_default.max_active_given);
}

TEST_F(ConfigTest, FileNamedByTheEnvironment) {
  set_env("CONCERTD_CONFIG", write("idle-timeout = 42\n"));
  Config cfg;
  ASSERT_EQ(parse({}, cfg), std::nullopt) << _err.str();
  EXPECT_EQ(cfg.server.idle_timeout, std::chrono::seconds{42});
  // --config names another file: the flag's wins over the variable's
  Config flagged;
  ASSERT_EQ(parse({"--config", write("idle-timeout = 43\n", "flag.toml")}, flagged), std::nullopt) << _err.str();
  EXPECT_EQ(flagged.server.idle_timeout, std::chrono::seconds{43});
}

TEST_F(ConfigTest, UnknownKeyIsRefused) {
  const std::string path = write("port = 8080\nfoo = 1\n");
  EXPECT_NE(refused({"--config", path}).find("unknown key `foo` in " + path + " (line 2)"), std::string::npos)
      << _err.str();
  // a section is no key of ours either, nor is --config itself
  EXPECT_NE(refused({"--config", write("[server]\nport = 1\n")}).find("unknown key `server`"), std::string::npos);
  EXPECT_NE(refused({"--config", write("config = \"x.toml\"\n")}).find("unknown key `config`"), std::string::npos);
}

TEST_F(ConfigTest, WrongTypeIsRefused) {
  const std::string path = write("host = \"127.0.0.1\"\nport = \"8080\"\n");
  EXPECT_NE(refused({"--config", path}).find("`port` in " + path + " (line 2): must be an integer, not a string"),
            std::string::npos)
      << _err.str();
  EXPECT_NE(refused({"--config", write("hold-ttl = 1.5\n")})
                .find("`hold-ttl` in " + (_dir / "concertd.toml").string() +
                      " (line 1): must be an integer (whole seconds), not a floating-point number"),
            std::string::npos)
      << _err.str();
  EXPECT_NE(refused({"--config", write("demo = \"yes\"\n")}).find("must be true or false"), std::string::npos);
  EXPECT_NE(refused({"--config", write("admin-key = 12\n")}).find("must be a string, not an integer"),
            std::string::npos);
  EXPECT_NE(refused({"--config", write("trusted-proxies = [\"a\", 1]\n")}).find("must be an array of strings"),
            std::string::npos);
}

TEST_F(ConfigTest, OutOfRangeIsRefusedLikeAFlag) {
  const std::string path = write("hold-ttl = 0\n");
  EXPECT_NE(refused({"--config", path}).find("`hold-ttl` in " + path + " (line 1): Value 0 not in range"),
            std::string::npos)
      << _err.str();
  EXPECT_NE(refused({"--config", write("port = 70000\n")}).find("`port` in "), std::string::npos);
  EXPECT_NE(refused({"--config", write("postgres = \"mysql://h/db\"\n")}).find("not a postgresql:// URI"),
            std::string::npos);
  EXPECT_NE(refused({"--config", write("token-keys = \"k1:short\"\n")}).find("at least 16 are needed"),
            std::string::npos);
  // refused even when a flag overrides it: the file is wrong either way
  refused({"--config", write("header-timeout = 3601\n"), "--header-timeout", "5"});
  EXPECT_NE(refused({"--config", write("demo = true\nno-demo = true\n")}).find("`demo` and `no-demo`"),
            std::string::npos);
}

TEST_F(ConfigTest, UnreadableOrBrokenFileIsRefused) {
  const std::string missing = (_dir / "missing.toml").string();
  EXPECT_NE(refused({"--config", missing}).find("cannot read config file " + missing + ": No such file"),
            std::string::npos)
      << _err.str();
  const std::string broken = write("port = 8080\nhost = \n");
  EXPECT_NE(refused({"--config", broken}).find("cannot parse config file " + broken + ": "), std::string::npos);
  EXPECT_NE(_err.str().find("(line 2, column 8)"), std::string::npos) << _err.str();
}

TEST_F(ConfigTest, PostgresPasswordIsMasked) {
  EXPECT_EQ(mask_postgres_password("postgresql://u:s3cret@db.example:5432/tickets"),
            "postgresql://u:***@db.example:5432/tickets");
  EXPECT_EQ(mask_postgres_password("postgres://u:p?a:ss@h1,h2/db?sslmode=require"),
            "postgres://u:***@h1,h2/db?sslmode=require");
  EXPECT_EQ(mask_postgres_password("postgresql://u@h/db?sslmode=disable&password=s3cret&application_name=x"),
            "postgresql://u@h/db?sslmode=disable&password=***&application_name=x");
  EXPECT_EQ(mask_postgres_password("postgresql://h/db?password=s3cret"), "postgresql://h/db?password=***");
  EXPECT_EQ(mask_postgres_password("postgresql://u@h/db"), "postgresql://u@h/db");
  EXPECT_EQ(mask_postgres_password("postgresql:///db"), "postgresql:///db");
}

TEST_F(ConfigTest, PrintedConfigurationMasksSecrets) {
  Config cfg;
  ASSERT_EQ(parse({"config", "--admin-key", "adm1n-s3cret", "--user-auth-secret", "us3r-s3cret", "--token-keys",
                   "k1:0123456789abcdef0123,k2:fedcba9876543210fedc", "--postgres",
                   "postgresql://tickets:pg-s3cret@db.example/tickets"},
                  cfg),
            std::nullopt)
      << _err.str();
  EXPECT_EQ(cfg.command, Command::print_config);
  const std::string text = config_toml(cfg);
  for (const char* secret : {"adm1n-s3cret", "us3r-s3cret", "0123456789abcdef", "fedcba98", "pg-s3cret"}) {
    EXPECT_EQ(text.find(secret), std::string::npos) << secret << " shown in\n" << text;
  }
  EXPECT_NE(text.find("admin-key = \"***\""), std::string::npos) << text;
  EXPECT_NE(text.find("user-auth-secret = \"***\""), std::string::npos) << text;
  EXPECT_NE(text.find("token-keys = \"k1:***,k2:***\""), std::string::npos) << text;
  EXPECT_NE(text.find("postgres = \"postgresql://tickets:***@db.example/tickets\""), std::string::npos) << text;
}

TEST_F(ConfigTest, PrintedConfigurationLoadsAgainToTheSame) {
  const std::string path = write(
      "port = 9090\nmax-active = 500\nhold-ttl = 120\nadmin-key = \"k\\\"ey\"\n"
      "trusted-proxies = [\"10.0.0.0/8\"]\ndemo = false\ndata-dir = \"/var/lib/concertd\"\n");
  set_env("CONCERTD_RATE_LIMIT", "9");
  Config cfg;
  ASSERT_EQ(parse({"config", "--config", path, "--max-body", "1000"}, cfg), std::nullopt) << _err.str();
  const std::string text = config_toml(cfg);
  EXPECT_NE(text.find("port = 9090"), std::string::npos) << text;
  EXPECT_NE(text.find("# file"), std::string::npos) << text;
  EXPECT_NE(text.find("# env CONCERTD_RATE_LIMIT"), std::string::npos) << text;
  EXPECT_NE(text.find("# flag"), std::string::npos) << text;
  EXPECT_NE(text.find("# default"), std::string::npos) << text;
  EXPECT_NE(text.find("# redis is not set"), std::string::npos) << text;
  // every value, wherever it came from, is in the text: loaded alone it gives the same values
  unsetenv("CONCERTD_RATE_LIMIT");
  Config again;
  ASSERT_EQ(parse({"config", "--config", write(text, "printed.toml")}, again), std::nullopt) << _err.str() << text;
  EXPECT_EQ(again.port, 9090);
  EXPECT_EQ(again.server.max_body, 1000U);
  EXPECT_EQ(again.edge.token_issues_per_second, 9);
  EXPECT_EQ(again.service.hold_ttl, Seconds{120});
  EXPECT_FALSE(again.demo);
  Config third;
  ASSERT_EQ(parse({"config", "--config", write(config_toml(again), "again.toml")}, third), std::nullopt);
  EXPECT_EQ(config_toml(third), config_toml(again));
}

TEST_F(ConfigTest, ServeRefusesTheMaskAsASecret) {
  const std::string path = write("admin-key = \"***\"\n");
  EXPECT_NE(refused({"serve", "--config", path}).find("--admin-key is `***` (file)"), std::string::npos) << _err.str();
  Config cfg;  // `concertd config` reads its own output
  EXPECT_EQ(parse({"config", "--config", path}, cfg), std::nullopt) << _err.str();
}

TEST_F(ConfigTest, BadFlagStillStopsBeforeTheFile) {
  // the command line is read first: a bad flag is reported, not the missing file
  EXPECT_NE(refused({"--config", (_dir / "missing.toml").string(), "--hold-ttl", "0"}).find("--hold-ttl"),
            std::string::npos);
}

}  // namespace
}  // namespace concertd
