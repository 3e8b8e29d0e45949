#include <boost/json.hpp>

#include "domain/assert.hpp"
#include "domain/errors.hpp"
#include "domain/fingerprint.hpp"
#include "domain/validation.hpp"
#include "http/codec.hpp"
#include "http/handlers/app.hpp"

namespace concertd::http {

namespace {

[[noreturn]] void refuse_user_id() {
  throw invalid_field("userId", "userId must be 1 to 64 characters of A-Z a-z 0-9 . _ @ -");
}
[[noreturn]] void refuse_reservation_id() {
  throw invalid_field("reservationId", "reservationId must be 1 to 128 characters");
}
[[noreturn]] void refuse_concert_id() {
  throw invalid_field("concertId", "concertId must be an integer from 1 to 2^63-1");
}

/// The route's one path parameter, still percent-encoded.
const std::string& only_path_param(const Request& request) {
  CONCERTD_ASSERT(request.path_params.size() == 1, "the identifier's route has one parameter");
  return request.path_params.front();
}

}  // namespace

std::string user_id_param(const Request& request) {
  auto decoded = percent_decode(only_path_param(request));
  if (!decoded || !is_valid_user_id(*decoded)) {
    refuse_user_id();
  }
  return std::move(*decoded);
}

std::string reservation_id_param(const Request& request) {
  auto decoded = percent_decode(only_path_param(request));
  if (!decoded || !is_valid_reservation_id(*decoded)) {
    refuse_reservation_id();
  }
  return std::move(*decoded);
}

ConcertId concert_id_param(const Request& request) {
  const auto id = parse_concert_id(only_path_param(request));
  if (!id) {
    refuse_concert_id();
  }
  return *id;
}

std::string user_id_field(const boost::json::object& body) {
  std::string id = require_string(body, "userId");
  if (!is_valid_user_id(id)) {
    refuse_user_id();
  }
  return id;
}

std::string reservation_id_field(const boost::json::object& body) {
  std::string id = require_string(body, "reservationId");
  if (!is_valid_reservation_id(id)) {
    refuse_reservation_id();
  }
  return id;
}

ConcertId concert_id_field(const boost::json::object& body) {
  const auto id = integer_field(body, "concertId");
  if (!id || *id < 1) {
    refuse_concert_id();
  }
  return *id;
}

std::optional<IdempotencyStamp> idempotency_stamp(const Request& request, const char* endpoint) {
  if (!request.idempotency_key) {
    return std::nullopt;
  }
  if (!is_valid_idempotency_key(*request.idempotency_key)) {
    throw invalid_field("Idempotency-Key", "Idempotency-Key must be 1 to 128 printable ASCII characters");
  }
  // Equal as JSON means equal canonical forms; a body that is not JSON is compared as bytes.
  const auto parsed = try_parse(request.body);
  std::string fingerprint = parsed ? body_fingerprint(*parsed)
                                   : body_fingerprint(boost::json::value(boost::json::string("raw:" + request.body)));
  return IdempotencyStamp{*request.idempotency_key, endpoint, std::move(fingerprint)};
}

}  // namespace concertd::http
