#include <boost/json.hpp>

#include "domain/errors.hpp"
#include "domain/fingerprint.hpp"
#include "domain/validation.hpp"
#include "http/codec.hpp"
#include "http/handlers/app.hpp"

namespace concertd::http {

std::string user_id_param(const std::string& raw) {
  auto decoded = percent_decode(raw);
  if (!decoded || !is_valid_user_id(*decoded)) {
    throw invalid_field("userId", "userId must be 1 to 64 characters of A-Z a-z 0-9 . _ @ -");
  }
  return std::move(*decoded);
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
