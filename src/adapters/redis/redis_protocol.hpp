#pragma once
// Pure helpers of the Redis adapter, free of sockets and of hiredis, so that unit tests reach
// them: the URL and the store-change lines the queue scripts write.
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ports/store.hpp"

namespace concertd::redis {

struct Endpoint {
  std::string host;
  std::string port = "6379";
  int db = 0;
};

/// redis://host[:port][/db]; nullopt for anything else (no user, password or options yet).
inline std::optional<Endpoint> parse_url(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    return std::nullopt;
  }
  url.remove_prefix(kScheme.size());
  Endpoint out;
  const auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view db = url.substr(slash + 1);
    if (!db.empty()) {
      int number = -1;
      const auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), number);
      if (ec != std::errc{} || end != db.data() + db.size() || number < 0) {
        return std::nullopt;
      }
      out.db = number;
    }
  }
  if (authority.find('@') != std::string_view::npos) {
    return std::nullopt;
  }
  if (!authority.empty() && authority.front() == '[') {  // [::1]:6379
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      return std::nullopt;
    }
    out.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty()) {
      if (authority.front() != ':') {
        return std::nullopt;
      }
      out.port = std::string(authority.substr(1));
    }
  } else {
    const auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      out.port = std::string(authority.substr(colon + 1));
    }
  }
  int port = 0;
  const auto [end, ec] = std::from_chars(out.port.data(), out.port.data() + out.port.size(), port);
  if (out.host.empty() || ec != std::errc{} || end != out.port.data() + out.port.size() || port < 1 || port > 65535) {
    return std::nullopt;
  }
  return out;
}

namespace detail {
inline std::optional<std::int64_t> to_int(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}
inline std::optional<Timestamp> to_time(std::string_view text) {
  if (text.empty()) {
    return std::nullopt;
  }
  if (auto ms = to_int(text)) {
    return from_millis(*ms);
  }
  return std::nullopt;
}
}  // namespace detail

/// "id|active|until|" / "id|spent|until|spent" / "id|dropped||", as the scripts' push_change
/// writes them; nullopt for a malformed line.
inline std::optional<TokenChange> parse_change(std::string_view line) {
  std::string_view parts[4];
  for (int i = 0; i < 3; ++i) {
    const auto bar = line.find('|');
    if (bar == std::string_view::npos) {
      return std::nullopt;
    }
    parts[i] = line.substr(0, bar);
    line.remove_prefix(bar + 1);
  }
  parts[3] = line;
  TokenChange change;
  change.token_id = std::string(parts[0]);
  if (change.token_id.empty()) {
    return std::nullopt;
  }
  if (parts[1] == "active") {
    change.state = TokenState::Active;
  } else if (parts[1] == "spent") {
    change.state = TokenState::Spent;
  } else if (parts[1] == "dropped") {
    change.state = TokenState::Dropped;
  } else {
    return std::nullopt;
  }
  // An empty field is "none"; anything else must be a whole number of milliseconds.
  for (int i = 2; i < 4; ++i) {
    if (!parts[i].empty() && !detail::to_int(parts[i])) {
      return std::nullopt;
    }
  }
  change.active_until = detail::to_time(parts[2]);
  change.spent_at = detail::to_time(parts[3]);
  return change;
}

}  // namespace concertd::redis
