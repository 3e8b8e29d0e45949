#pragma once
// The process's logs: text for a terminal, one JSON object per line for a collector, the level,
// and the access log (on or off).
#include <string>

#include "http/access_log.hpp"

namespace concertd {

struct LogSettings {
  std::string format = "auto";  // auto (JSON unless standard output is a terminal), text, json
  std::string level = "info";   // trace, debug, info, warn, error, critical, off
  bool access = true;           // one line per request (at info)
};

/// Sets the default logger's format and level, and makes the access log the server writes to.
http::AccessLog configure_logging(const LogSettings& settings);

}  // namespace concertd
