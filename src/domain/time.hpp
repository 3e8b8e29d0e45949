#pragma once
// Time values and the one RFC 3339 codec of the project (GCC 12 lacks std::format and chrono::parse).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace concertd {

using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;
using Seconds = std::chrono::seconds;
using Millis = std::chrono::milliseconds;

/// A calendar date (UTC), stored as days since 1970-01-01.
struct Date {
  std::int64_t days_since_epoch = 0;
  auto operator<=>(const Date&) const = default;
};

/// "2025-05-29T15:35:00.000Z": UTC, millisecond precision, Z suffix.
std::string format_rfc3339(Timestamp t);
std::optional<Timestamp> parse_rfc3339(std::string_view text);

/// "YYYY-MM-DD"; parse rejects anything else, including impossible dates.
std::string format_date(Date d);
std::optional<Date> parse_date(std::string_view text);

Date date_of(Timestamp t);
Timestamp from_millis(std::int64_t ms);
std::int64_t to_millis(Timestamp t);

}  // namespace concertd
