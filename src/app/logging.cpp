#include "app/logging.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace concertd {
namespace {

/// {"time":"…Z","level":"info","msg":"…"}; the access logger's messages are already JSON members
/// (http::AccessLog) and follow the level instead of a "msg".
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line = "{\"time\":\"";
    append_time(line, msg.time);
    line += "\",\"level\":\"";
    const auto level = spdlog::level::to_string_view(msg.level);
    line.append(level.data(), level.size());
    line += "\",";
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    if (std::string_view(msg.logger_name.data(), msg.logger_name.size()) == "access") {
      line += payload;
    } else {
      line += "\"msg\":\"";
      http::append_json_escaped(line, payload);
      line += '"';
    }
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonFormatter>(); }

 private:
  static void append_time(std::string& out, spdlog::log_clock::time_point t) {
    const auto since_epoch = t.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
    const std::time_t tt = seconds.count();
    std::tm utc{};
    gmtime_r(&tt, &utc);
    char text[40];
    const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
    out.append(text, n);
    std::snprintf(text, sizeof text, ".%03dZ", static_cast<int>(millis));
    out += text;
  }
};

}  // namespace

http::AccessLog configure_logging(const LogSettings& settings) {
  const bool json =
      settings.format == LogFormat::Json || (settings.format == LogFormat::Auto && isatty(STDOUT_FILENO) == 0);
  // The color sink writes plain text when the output is not a terminal, and flushes every line:
  // a line is in the file when its event has happened (tests and log shippers read it then).
  auto sink = std::make_shared<spdlog::sinks::stdout_color_sink_mt>();
  auto main = std::make_shared<spdlog::logger>("", sink);  // unnamed: text lines as before
  if (json) {
    sink->set_formatter(std::make_unique<JsonFormatter>());
  }
  main->set_level(spdlog::level::from_str(settings.level));
  spdlog::set_default_logger(main);
  if (!settings.access) {
    return {};
  }
  auto access = std::make_shared<spdlog::logger>("access", sink);
  access->set_level(main->level());
  return {access, json ? http::AccessLog::Format::Json : http::AccessLog::Format::Text};
}

}  // namespace concertd
