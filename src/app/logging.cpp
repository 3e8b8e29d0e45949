#include "app/logging.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace concertd {
namespace {

constexpr std::chrono::seconds kAccessFlushEvery{1};

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
  /// The date and time to the second are formatted once per second (the sink's mutex guards them).
  void append_time(std::string& out, spdlog::log_clock::time_point t) {
    const auto since_epoch = t.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    if (seconds != _second) {
      const std::time_t tt = seconds.count();
      std::tm utc{};
      gmtime_r(&tt, &utc);
      char text[32];
      _second_text.assign(text, std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S.", &utc));
      _second = seconds;
    }
    out += _second_text;
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
    out += static_cast<char>('0' + millis / 100);
    out += static_cast<char>('0' + millis / 10 % 10);
    out += static_cast<char>('0' + millis % 10);
    out += 'Z';
  }

  std::chrono::seconds _second{-1};
  std::string _second_text;
};

/// Standard output through stdio's buffer, written out on flush() only. A write(2) per access
/// line took a third of a status request's time; lines now leave in blocks.
class BufferedStdoutSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  BufferedStdoutSink() { std::setvbuf(stdout, nullptr, _IOFBF, kBuffer); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    std::fwrite(line.data(), 1, line.size(), stdout);
  }
  void flush_() override { std::fflush(stdout); }

 private:
  static constexpr std::size_t kBuffer = 64 * 1024;
};

}  // namespace

http::AccessLog configure_logging(const LogSettings& settings) {
  const bool terminal = isatty(STDOUT_FILENO) != 0;
  const bool json = settings.format == "json" || (settings.format == "auto" && !terminal);
  // Both loggers share one sink, so that lines keep their order. On a terminal every line is
  // written at once (in color); otherwise the access lines wait in the buffer until the next other
  // line, or at most kAccessFlushEvery: every other line flushes (tests and log shippers read an
  // event's line once it happened).
  spdlog::sink_ptr sink;
  if (terminal) {
    sink = std::make_shared<spdlog::sinks::stdout_color_sink_mt>();
  } else {
    sink = std::make_shared<BufferedStdoutSink>();
  }
  if (json) {
    sink->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    sink->set_formatter(std::make_unique<spdlog::pattern_formatter>());
  }
  auto main = std::make_shared<spdlog::logger>("", sink);  // unnamed: text lines as before
  main->set_level(spdlog::level::from_str(settings.level));
  main->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(main);
  if (!settings.access) {
    return {};
  }
  auto access = std::make_shared<spdlog::logger>("access", sink);
  access->set_level(main->level());
  spdlog::register_logger(access);  // flush_every() reaches the registered loggers
  spdlog::flush_every(kAccessFlushEvery);
  return {access, json ? http::AccessLog::Format::Json : http::AccessLog::Format::Text};
}

}  // namespace concertd
