#include "http/codec.hpp"

#include <charconv>

#include <boost/json.hpp>

namespace concertd::http {

namespace json = boost::json;

int status_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidRequest:
    case ErrorCode::InvalidAmount:
    case ErrorCode::BalanceLimitExceeded:
    case ErrorCode::InsufficientBalance:
    case ErrorCode::InvalidReservation:
      return 400;
    case ErrorCode::MissingToken:
    case ErrorCode::InvalidToken:
    case ErrorCode::UserAuthRequired:
    case ErrorCode::AdminKeyRequired:
      return 401;
    case ErrorCode::Forbidden:
    case ErrorCode::TokenNotActive:
      return 403;
    case ErrorCode::NotFound:
    case ErrorCode::ConcertNotFound:
    case ErrorCode::SeatNotFound:
    case ErrorCode::ReservationNotFound:
      return 404;
    case ErrorCode::MethodNotAllowed:
      return 405;
    case ErrorCode::HoldLimitExceeded:
    case ErrorCode::SeatAlreadyAssigned:
    case ErrorCode::SeatLocked:
    case ErrorCode::ReservationNotCancellable:
    case ErrorCode::IdempotencyKeyInUse:
      return 409;
    case ErrorCode::PayloadTooLarge:
      return 413;
    case ErrorCode::IdempotencyKeyReused:
      return 422;
    case ErrorCode::RateLimited:
      return 429;
    case ErrorCode::ServiceUnavailable:
      return 503;
  }
  return 500;
}

void JsonWriter::key(std::string_view name) {
  // One append per piece: push_back's capacity check per character showed in the profile.
  _out.append(_first ? "\"" : ",\"", _first ? 1 : 2);
  _first = false;
  _out.append(name);
  _out.append("\":", 2);
}

JsonWriter& JsonWriter::field(std::string_view name, std::int64_t value) {
  key(name);
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  _out.append(digits, end);
  return *this;
}

JsonWriter& JsonWriter::field(std::string_view name, std::string_view value) {
  key(name);
  _out.push_back('"');
  std::size_t run_start = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const auto u = static_cast<unsigned char>(value[i]);
    if (u >= 0x20 && u != '"' && u != '\\') {
      continue;  // UTF-8 passes through, as boost::json::serialize writes it
    }
    _out.append(value.data() + run_start, i - run_start);
    run_start = i + 1;
    if (u == '"' || u == '\\') {
      const char escaped[2] = {'\\', value[i]};
      _out.append(escaped, 2);
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      const char escaped[6] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 0xf]};
      _out.append(escaped, 6);
    }
  }
  _out.append(value.data() + run_start, value.size() - run_start);
  _out.push_back('"');
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view name, std::string_view encoded) {
  key(name);
  _out.append(encoded);
  return *this;
}

JsonWriter& JsonWriter::begin_array(std::string_view name) {
  key(name);
  _out.push_back('[');
  _first = true;
  return *this;
}

JsonWriter& JsonWriter::item() {
  if (!_first) {
    _out.push_back(',');
  }
  _out.push_back('{');
  _first = true;
  return *this;
}

JsonWriter& JsonWriter::end_item() {
  _out.push_back('}');
  _first = false;
  return *this;
}

JsonWriter& JsonWriter::end_array() {
  _out.push_back(']');
  _first = false;
  return *this;
}

std::string JsonWriter::finish() && {
  _out.push_back('}');
  return std::move(_out);
}

Response json_response(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response json_response(int status, const json::value& body) {
  Response r;
  r.status = status;
  r.body = json::serialize(body);
  return r;
}

Response error_response(const ClientError& error) {
  json::object body;
  body["error"] = error.what();
  body["code"] = code_name(error.code());
  std::optional<std::int64_t> retry_after;
  for (const auto& d : error.details()) {
    std::visit([&](const auto& v) { body[d.key] = v; }, d.value);
    if (d.key == "retryAfterSeconds") {
      retry_after = std::get<std::int64_t>(d.value);
    }
  }
  Response r = json_response(status_of(error.code()), body);
  if (retry_after) {
    r.headers.emplace_back("Retry-After", std::to_string(*retry_after));
  }
  return r;
}

namespace {

json::parse_options strict_options() {
  json::parse_options opt;
  opt.max_depth = 32;
  return opt;
}

}  // namespace

std::optional<json::value> try_parse(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec, {}, strict_options());
  if (ec) {
    return std::nullopt;
  }
  return v;
}

json::object parse_object(const std::string& body) {
  auto v = try_parse(body);
  if (!v) {
    throw ClientError(Refusal::BodyNotJson);
  }
  if (!v->is_object()) {
    throw ClientError(Refusal::BodyNotObject);
  }
  return std::move(v->as_object());
}

std::optional<std::int64_t> integer_field(const json::object& obj, std::string_view name) {
  const auto* v = obj.if_contains(name);
  if (!v) {
    return std::nullopt;
  }
  // Boost.JSON keeps "100000" as an integer and "100000.0" or "1e5" as a double: only the former
  // counts as written as an integer.
  if (v->is_int64()) {
    return v->get_int64();
  }
  return std::nullopt;  // doubles, uint64 beyond int64, strings, ...
}

namespace {

/// A member name as written between its quotes, decoded: an escaped key ("seat\u004eumber")
/// names the same member as the plain one.
std::string decoded_key(std::string_view raw) {
  std::string key(raw);
  if (key.find('\\') != std::string::npos) {
    boost::system::error_code ec;
    const json::value decoded = json::parse("\"" + key + "\"", ec);
    if (!ec && decoded.is_string()) {
      key = std::string(decoded.get_string());
    }
  }
  return key;
}

/// The raw text of the value of top-level member `key` of a JSON object text (the last one when
/// the key repeats), for a body that already parsed. Bounded by the body's length.
std::optional<std::string_view> raw_member(std::string_view text, std::string_view key) {
  std::size_t i = 0;
  auto skip_ws = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) {
      ++i;
    }
  };
  auto skip_string = [&] {  // at the opening quote; leaves i after the closing one
    for (++i; i < text.size() && text[i] != '"'; ++i) {
      if (text[i] == '\\') {
        ++i;
      }
    }
    ++i;
  };
  skip_ws();
  if (i >= text.size() || text[i] != '{') {
    return std::nullopt;
  }
  ++i;
  std::optional<std::string_view> found;
  while (i < text.size()) {
    skip_ws();
    if (i >= text.size() || text[i] != '"') {
      break;
    }
    const std::size_t key_start = i + 1;
    skip_string();
    const std::string this_key = decoded_key(text.substr(key_start, i - 1 - key_start));
    skip_ws();
    ++i;  // ':'
    skip_ws();
    const std::size_t value_start = i;
    int depth = 0;
    while (i < text.size()) {
      const char c = text[i];
      if (c == '"') {
        skip_string();
        continue;
      }
      if (c == '{' || c == '[') {
        ++depth;
      } else if (c == '}' || c == ']') {
        if (depth == 0) {
          break;
        }
        --depth;
      } else if (c == ',' && depth == 0) {
        break;
      }
      ++i;
    }
    std::string_view value = text.substr(value_start, i - value_start);
    while (!value.empty() &&
           (value.back() == ' ' || value.back() == '\t' || value.back() == '\n' || value.back() == '\r')) {
      value.remove_suffix(1);
    }
    if (this_key == key) {
      found = value;
    }
    ++i;  // ',' or '}'
  }
  return found;
}

bool is_integer_literal(std::string_view v) {
  if (!v.empty() && v[0] == '-') {
    v.remove_prefix(1);
  }
  return !v.empty() && v.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

std::optional<WideInteger> wide_integer_field(const json::object& obj, const std::string& body, std::string_view name) {
  const auto* v = obj.if_contains(name);
  if (!v) {
    return std::nullopt;
  }
  if (v->is_int64()) {
    return WideInteger{v->get_int64(), false};
  }
  if (v->is_uint64()) {
    return WideInteger{0, true};
  }
  if (v->is_double()) {
    const auto raw = raw_member(body, name);
    if (raw && is_integer_literal(*raw)) {
      return WideInteger{0, true};
    }
  }
  return std::nullopt;
}

std::int64_t require_integer(const json::object& obj, std::string_view name) {
  auto v = integer_field(obj, name);
  if (!v) {
    throw invalid_field(std::string(name), std::string(name) + " must be an integer");
  }
  return *v;
}

std::string require_string(const json::object& obj, std::string_view name) {
  const auto* v = obj.if_contains(name);
  if (!v || !v->is_string()) {
    throw invalid_field(std::string(name), std::string(name) + " must be a string");
  }
  return std::string(v->get_string());
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) {
      return std::nullopt;
    }
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int hi = hex(s[i + 1]);
    const int lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

json::object to_json(const Reservation& r) {
  return {{"reservationId", r.id},
          {"concertId", r.concert_id},
          {"seatNumber", r.seat_number},
          {"price", r.price},
          {"status", reservation_status_name(r.status)},
          {"expiresAt", format_rfc3339(r.expires_at)}};
}

json::object to_json(const PaymentReceipt& p) {
  return {{"paymentId", p.payment_id},
          {"reservationId", p.reservation_id},
          {"concertId", p.concert_id},
          {"seatNumber", p.seat_number},
          {"amount", p.amount},
          {"status", "CONFIRMED"},
          {"balanceAfter", p.balance_after}};
}

json::object to_json(const ChargeReceipt& c) {
  return {{"userId", c.user_id},
          {"currentBalance", c.balance_after},
          {"chargedAmount", c.amount},
          {"transactionId", c.transaction_id}};
}

}  // namespace concertd::http
