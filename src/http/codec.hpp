#pragma once
// JSON in and out: request body decoding with the contract's strictness, response encoding, and
// the one table from error codes to HTTP statuses.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "domain/errors.hpp"
#include "domain/model.hpp"
#include "http/types.hpp"

namespace concertd::http {

/// A JSON object written straight into a string, for the hot responses (queue status, token,
/// seat map): building a boost::json::object first cost more than the rest of such a request.
/// Strings are escaped; keys are the caller's literals. `raw` takes an already-encoded value.
class JsonWriter {
 public:
  /// Room for a typical answer up front: growing from nothing took four allocations per poll.
  JsonWriter() {
    _out.reserve(256);
    _out.push_back('{');
  }
  JsonWriter& field(std::string_view key, std::int64_t value);
  JsonWriter& field(std::string_view key, std::string_view value);
  JsonWriter& field(std::string_view key, const char* value) { return field(key, std::string_view(value)); }
  JsonWriter& raw(std::string_view key, std::string_view encoded);
  /// Opens an array of objects under `key`; `item()` starts the next element, `end_array()` closes.
  JsonWriter& begin_array(std::string_view key);
  JsonWriter& item();
  JsonWriter& end_item();
  JsonWriter& end_array();
  std::string finish() &&;
  void reserve(std::size_t n) { _out.reserve(n); }

 private:
  void key(std::string_view name);
  std::string _out;
  bool _first = true;
};

Response json_response(int status, std::string body);

int status_of(ErrorCode code);
Response error_response(const ClientError& error);
Response json_response(int status, const boost::json::value& body);

/// The body as a JSON object, else 400 INVALID_REQUEST. Depth and size are bounded.
boost::json::object parse_object(const std::string& body);
/// The body as JSON if it parses (for idempotency fingerprints), else nullopt.
std::optional<boost::json::value> try_parse(const std::string& body);

/// A field that must be an integer written as one (not 1.0 or 1e5). Missing or mistyped: nullopt.
std::optional<std::int64_t> integer_field(const boost::json::object& obj, std::string_view name);
/// An integer field that may be written beyond int64 (Boost.JSON reads such a literal as a
/// double, so the raw body is consulted): `too_large` when it is an integer out of range.
struct WideInteger {
  std::int64_t value = 0;
  bool too_large = false;
};
std::optional<WideInteger> wide_integer_field(const boost::json::object& obj, const std::string& body,
                                              std::string_view name);

/// Like integer_field but a missing or mistyped field is 400 INVALID_REQUEST naming it.
std::int64_t require_integer(const boost::json::object& obj, std::string_view name);
std::string require_string(const boost::json::object& obj, std::string_view name);

/// Percent-decodes a path segment; nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view segment);

boost::json::object to_json(const Reservation& r);
boost::json::object to_json(const PaymentReceipt& p);
boost::json::object to_json(const ChargeReceipt& c);

}  // namespace concertd::http
