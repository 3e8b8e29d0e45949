#pragma once
// Idempotency: two bodies are "the same request" when they are equal as JSON values.
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace concertd {

/// Serialises `v` with object keys sorted at every level, so key order and spacing vanish.
std::string canonical_json(const boost::json::value& v);
/// SHA-256 of `bytes` as 64 lower-case hex digits.
std::string sha256_hex(std::string_view bytes);
/// Hex SHA-256 of the canonical form.
std::string body_fingerprint(const boost::json::value& v);

}  // namespace concertd
