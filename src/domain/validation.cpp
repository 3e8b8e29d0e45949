#include "domain/validation.hpp"

#include <limits>

namespace concertd {

std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

bool is_valid_user_id(std::string_view id) {
  if (id.empty() || id.size() > 64) {
    return false;
  }
  for (const char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '@' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool is_valid_reservation_id(std::string_view id) {
  // Characters, not bytes: 128 Korean characters are 384 bytes and still an id. No NUL: the
  // PostgreSQL adapter passes ids as C strings and would look up a shorter one than SQLite.
  const auto length = utf8_length(id);
  return length && *length >= 1 && *length <= 128 && id.find('\0') == std::string_view::npos;
}

std::optional<ConcertId> parse_concert_id(std::string_view text) {
  if (text.empty() || text.size() > 19 || text[0] == '0') {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
    value = value * 10 + static_cast<std::uint64_t>(c - '0');  // 19 digits cannot overflow uint64
  }
  if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return std::nullopt;
  }
  return static_cast<ConcertId>(value);
}

bool is_valid_idempotency_key(std::string_view key) {
  if (key.empty() || key.size() > 128) {
    return false;
  }
  for (const char c : key) {
    if (c < 0x20 || c > 0x7e) {
      return false;
    }
  }
  return true;
}

bool is_valid_charge_amount(Money amount) { return amount >= kMinCharge && amount <= kMaxCharge; }

bool is_valid_seat_price(Money price) { return price >= kMinSeatPrice && price <= kMaxSeatPrice; }

std::optional<std::size_t> utf8_length(std::string_view text) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (lead < 0x80) {
      len = 1;
      cp = lead;
    } else if ((lead & 0xE0) == 0xC0) {
      len = 2;
      cp = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      len = 3;
      cp = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      len = 4;
      cp = lead & 0x07;
    } else {
      return std::nullopt;
    }
    if (i + len > text.size()) {
      return std::nullopt;
    }
    for (std::size_t k = 1; k < len; ++k) {
      const auto cont = static_cast<unsigned char>(text[i + k]);
      if ((cont & 0xC0) != 0x80) {
        return std::nullopt;
      }
      cp = (cp << 6) | (cont & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    const bool overlong = (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return std::nullopt;
    }
    i += len;
    ++count;
  }
  return count;
}

}  // namespace concertd
