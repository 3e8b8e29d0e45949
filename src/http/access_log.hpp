#pragma once
// One line per answered request: request id, method, path, route, status, latency, user (when a
// token named one), peer. Text for a terminal, JSON for a collector (logging.hpp chooses).
#include <memory>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace concertd::http {

struct AccessRecord {
  std::string_view request_id;
  std::string_view method;
  std::string_view path;
  std::string_view route;  // the router's pattern; empty when no route matched
  int status = 0;
  double seconds = 0;
  std::string_view user_id;  // empty when the request named nobody
  std::string_view peer;
};

class AccessLog {
 public:
  enum class Format { Text, Json };

  /// Off: writes nothing.
  AccessLog() = default;
  /// Writes through `logger` (named "access"): in Json, each message is the record's fields as
  /// JSON members, which the JSON formatter (logging.cpp) puts after time and level.
  AccessLog(std::shared_ptr<spdlog::logger> logger, Format format);

  bool enabled() const { return _logger != nullptr; }
  void record(const AccessRecord& r) const;

 private:
  std::shared_ptr<spdlog::logger> _logger;
  Format _format = Format::Text;
};

/// `text` as the inside of a JSON string (quotes, backslashes and control characters escaped;
/// bytes that are not UTF-8 pass through as they are).
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace concertd::http
