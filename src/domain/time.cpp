#include "domain/time.hpp"

#include <cstdio>

namespace concertd {
namespace {

// Howard Hinnant's civil-calendar algorithms (public domain): days <-> y/m/d, proleptic Gregorian.
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

constexpr Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

constexpr bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

constexpr unsigned days_in_month(std::int64_t y, unsigned m) {
  constexpr unsigned table[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : table[m - 1];
}

/// Reads exactly `width` decimal digits at `pos`.
std::optional<unsigned> digits(std::string_view s, std::size_t pos, std::size_t width) {
  if (pos + width > s.size()) {
    return std::nullopt;
  }
  unsigned value = 0;
  for (std::size_t i = pos; i < pos + width; ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return std::nullopt;
    }
    value = value * 10 + static_cast<unsigned>(s[i] - '0');
  }
  return value;
}

constexpr std::int64_t kMillisPerDay = 86'400'000;

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

Timestamp from_millis(std::int64_t ms) { return Timestamp{Millis{ms}}; }
std::int64_t to_millis(Timestamp t) { return t.time_since_epoch().count(); }

Date date_of(Timestamp t) { return Date{floor_div(to_millis(t), kMillisPerDay)}; }

std::string format_date(Date d) {
  const Civil c = civil_from_days(d.days_since_epoch);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(c.year), c.month, c.day);
  return buf;
}

std::optional<Date> parse_date(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') {
    return std::nullopt;
  }
  const auto y = digits(s, 0, 4);
  const auto m = digits(s, 5, 2);
  const auto d = digits(s, 8, 2);
  if (!y || !m || !d || *m < 1 || *m > 12 || *d < 1 || *d > days_in_month(*y, *m)) {
    return std::nullopt;
  }
  return Date{days_from_civil(*y, *m, *d)};
}

std::string format_rfc3339(Timestamp t) {
  const std::int64_t ms = to_millis(t);
  const std::int64_t day = floor_div(ms, kMillisPerDay);
  const std::int64_t in_day = ms - day * kMillisPerDay;
  const Civil c = civil_from_days(day);
  if (c.year >= 0 && c.year <= 9999) {
    // Every time the service writes: digits by hand (snprintf was a tenth of a token issue).
    char out[25] = "0000-00-00T00:00:00.000Z";
    auto put = [&out](std::size_t at, std::int64_t value, int width) {
      for (int i = width - 1; i >= 0; --i, value /= 10) {
        out[at + static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
      }
    };
    put(0, c.year, 4);
    put(5, c.month, 2);
    put(8, c.day, 2);
    put(11, in_day / 3'600'000, 2);
    put(14, in_day / 60'000 % 60, 2);
    put(17, in_day / 1000 % 60, 2);
    put(20, in_day % 1000, 3);
    return std::string(out, 24);
  }
  char buf[64];  // room for any int64 year, so the format can never truncate
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ", static_cast<long long>(c.year),
                c.month, c.day, static_cast<long long>(in_day / 3'600'000),
                static_cast<long long>(in_day / 60'000 % 60), static_cast<long long>(in_day / 1000 % 60),
                static_cast<long long>(in_day % 1000));
  return buf;
}

std::optional<Timestamp> parse_rfc3339(std::string_view s) {
  // Accepts the form we emit, YYYY-MM-DDTHH:MM:SS[.fff]Z (fraction of 1 to 3 digits), and the
  // same with a numeric offset instead of Z (an operator in Seoul writes +09:00).
  std::int64_t offset_ms = 0;
  if (s.size() >= 25 && (s[s.size() - 6] == '+' || s[s.size() - 6] == '-') && s[s.size() - 3] == ':') {
    const auto oh = digits(s, s.size() - 5, 2);
    const auto om = digits(s, s.size() - 2, 2);
    if (!oh || !om || *oh > 23 || *om > 59) {
      return std::nullopt;
    }
    offset_ms = (*oh * 3'600'000LL + *om * 60'000LL) * (s[s.size() - 6] == '+' ? 1 : -1);
    s = s.substr(0, s.size() - 6);
  } else if (s.empty() || s.back() != 'Z') {
    return std::nullopt;
  } else {
    s.remove_suffix(1);
  }
  if (s.size() < 19 || s[10] != 'T' || s[13] != ':' || s[16] != ':') {
    return std::nullopt;
  }
  const auto date = parse_date(s.substr(0, 10));
  const auto hh = digits(s, 11, 2);
  const auto mm = digits(s, 14, 2);
  const auto ss = digits(s, 17, 2);
  if (!date || !hh || !mm || !ss || *hh > 23 || *mm > 59 || *ss > 59) {
    return std::nullopt;
  }
  unsigned millis = 0;
  const std::size_t frac_len = s.size() - 19;  // with the dot
  if (frac_len > 0) {
    if (s[19] != '.' || frac_len < 2 || frac_len > 4) {
      return std::nullopt;
    }
    const auto frac = digits(s, 20, frac_len - 1);
    if (!frac) {
      return std::nullopt;
    }
    millis = *frac * (frac_len == 2 ? 100 : frac_len == 3 ? 10 : 1);
  }
  return from_millis(date->days_since_epoch * kMillisPerDay + *hh * 3'600'000LL + *mm * 60'000LL + *ss * 1000LL +
                     millis - offset_ms);
}

}  // namespace concertd
