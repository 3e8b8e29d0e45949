#include "http/access_log.hpp"

#include <cstdio>

#include <spdlog/spdlog.h>

namespace concertd::http {

AccessLog::AccessLog(std::shared_ptr<spdlog::logger> logger, Format format)
    : _logger(std::move(logger)), _format(format) {}

void append_json_escaped(std::string& out, std::string_view text) {
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += ch;
    } else if (c < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += ch;
    }
  }
}

namespace {

void member(std::string& out, std::string_view name, std::string_view value) {
  out += ",\"";
  out += name;
  out += "\":\"";
  append_json_escaped(out, value);
  out += '"';
}

}  // namespace

void AccessLog::record(const AccessRecord& r) const {
  if (!_logger) {
    return;
  }
  const double millis = r.seconds * 1000.0;
  if (_format == Format::Text) {
    _logger->info("{} {} {} {} {:.3f}ms rid={} user={} peer={}", r.method, r.path, r.status,
                  r.route.empty() ? "-" : r.route, millis, r.request_id, r.user_id.empty() ? "-" : r.user_id, r.peer);
    return;
  }
  std::string fields = "\"event\":\"access\"";
  member(fields, "requestId", r.request_id);
  member(fields, "method", r.method);
  member(fields, "path", r.path);
  if (!r.route.empty()) {
    member(fields, "route", r.route);
  }
  fields += ",\"status\":" + std::to_string(r.status);
  char latency[32];
  std::snprintf(latency, sizeof latency, ",\"latencyMs\":%.3f", millis);
  fields += latency;
  if (!r.user_id.empty()) {
    member(fields, "userId", r.user_id);
  }
  member(fields, "peer", r.peer);
  _logger->info("{}", fields);
}

}  // namespace concertd::http
