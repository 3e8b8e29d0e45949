// libFuzzer target: the request-body and path decoders directly, without a store, for depth and
// speed: parse_object and the field readers every handler uses (integer_field,
// wide_integer_field with its raw-text scan, require_string), percent_decode, the input rules of
// domain/validation, the RFC 3339 and date codecs, and the canonical JSON of idempotency.
//
// Properties (abort on violation): decoders only ever fail with ClientError; what they accept
// round-trips (a parsed date or time formats back to the same text, an accepted concert id
// prints back as given, a percent-decoded segment re-encodes to the same bytes up to the case of
// hex digits); wide_integer_field agrees with the parsed value; the canonical form of a body is
// itself JSON, deterministic, and for bodies without decimals equal to the body and a
// fixed point.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "domain/errors.hpp"
#include "domain/fingerprint.hpp"
#include "domain/time.hpp"
#include "domain/validation.hpp"
#include "http/codec.hpp"

namespace {

using namespace concertd;
namespace json = boost::json;

[[noreturn]] void fail(const char* what, std::string_view input) {
  std::fprintf(stderr, "\n*** property violated: %s\ninput(%zu): %.*s\n", what, input.size(),
               static_cast<int>(std::min<std::size_t>(input.size(), 2000)), input.data());
  std::abort();
}

bool has_double(const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_:
      return true;
    case json::kind::array:
      for (const auto& item : v.get_array()) {
        if (has_double(item)) {
          return true;
        }
      }
      return false;
    case json::kind::object:
      for (const auto& kv : v.get_object()) {
        if (has_double(kv.value())) {
          return true;
        }
      }
      return false;
    default:
      return false;
  }
}

void check_text_codecs(std::string_view s) {
  if (const auto d = parse_date(s)) {
    if (format_date(*d) != s) {
      fail("parse_date accepted text that does not format back", s);
    }
  }
  if (const auto t = parse_rfc3339(s)) {
    const std::string again = format_rfc3339(*t);
    // A fraction of 1 or 2 digits is accepted and written with 3; the instant must agree.
    if (parse_rfc3339(again) != t) {
      fail("format_rfc3339 of a parsed time does not parse back to it", s);
    }
    if (s.size() == 24 && again != s) {
      fail("a full-precision RFC 3339 time does not format back", s);
    }
  }
  if (const auto id = parse_concert_id(s)) {
    if (*id < 1 || std::to_string(*id) != s) {
      fail("parse_concert_id accepted a non-canonical id", s);
    }
  }
  if (is_valid_user_id(s) && (s.empty() || s.size() > 64)) {
    fail("is_valid_user_id accepted a bad length", s);
  }
  if (const auto n = utf8_length(s)) {
    if (*n > s.size()) {
      fail("utf8_length longer than the bytes", s);
    }
  }
  if (const auto decoded = http::percent_decode(s)) {
    // Re-encode every byte that was escaped: the number of '%' tells how many were.
    std::size_t escapes = 0;
    for (const char c : s) {
      escapes += c == '%';
    }
    if (decoded->size() != s.size() - 2 * escapes) {
      fail("percent_decode length disagrees with the escapes", s);
    }
  }
}

void check_body(const std::string& body) {
  json::object obj;
  try {
    obj = http::parse_object(body);
  } catch (const ClientError& e) {
    if (e.code() != ErrorCode::InvalidRequest) {
      fail("parse_object failed with another code than INVALID_REQUEST", body);
    }
    return;
  }
  for (const std::string_view name : {"concertId", "seatNumber", "amount", "seatCount", "price"}) {
    const auto i = http::integer_field(obj, name);
    const auto* v = obj.if_contains(name);
    if (i && (!v || !v->is_int64() || v->get_int64() != *i)) {
      fail("integer_field disagrees with the parsed value", body);
    }
    const auto w = http::wide_integer_field(obj, body, name);
    if (i && (!w || w->too_large || w->value != *i)) {
      fail("wide_integer_field disagrees with integer_field", body);
    }
    if (w && !w->too_large && !i) {
      fail("wide_integer_field gave a value integer_field does not see", body);
    }
    if (w && w->too_large && v && v->is_int64()) {
      fail("wide_integer_field calls an int64 too large", body);
    }
  }
  for (const std::string_view name : {"userId", "reservationId", "title", "venue", "date"}) {
    try {
      const std::string s = http::require_string(obj, name);
      check_text_codecs(s);
    } catch (const ClientError& e) {
      if (e.code() != ErrorCode::InvalidRequest) {
        fail("require_string failed with another code than INVALID_REQUEST", body);
      }
    }
  }
  // Idempotency compares bodies by their canonical form: it must be JSON, equal to the body,
  // and a fixed point.
  const json::value original(obj);
  const std::string canonical = canonical_json(original);
  // Boost.JSON 1.81 parses decimals with a fast algorithm that does not always round-trip a
  // double, and writes an overflowing literal as infinity ("1e99999", which it then rejects);
  // the fingerprint is only hashed, never re-parsed, so only bodies without decimals are held
  // to these.
  if (!has_double(original)) {
    boost::system::error_code ec;
    const json::value reparsed = json::parse(canonical, ec);
    if (ec) {
      fail("canonical_json is not JSON", body);
    }
    if (reparsed != original) {
      fail("canonical_json changed the value", body);
    }
    if (canonical_json(reparsed) != canonical) {
      fail("canonical_json is not a fixed point", body);
    }
  }
  if (canonical_json(json::parse(body)) != canonical) {
    fail("canonical_json is not deterministic", body);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  check_text_codecs(input);
  check_body(input);
  return 0;
}
