#pragma once
// Client-facing failures. Services throw ClientError; the HTTP edge maps each code to a status
// in one place (http/codec.cpp). Anything else thrown is a server fault.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace concertd {

enum class ErrorCode {
  InvalidRequest,
  NotFound,
  MethodNotAllowed,
  PayloadTooLarge,
  RateLimited,
  MissingToken,
  InvalidToken,
  UserAuthRequired,
  AdminKeyRequired,
  Forbidden,
  TokenNotActive,
  ConcertNotFound,
  SeatNotFound,
  ReservationNotFound,
  HoldLimitExceeded,
  SeatAlreadyAssigned,
  SeatLocked,
  ReservationNotCancellable,
  InvalidAmount,
  BalanceLimitExceeded,
  InsufficientBalance,
  InvalidReservation,
  IdempotencyKeyReused,
  IdempotencyKeyInUse,
  ServiceUnavailable,
};

/// The machine code written in the `code` field, e.g. "SEAT_LOCKED".
const char* code_name(ErrorCode code);

struct ErrorDetail {
  std::string key;
  std::variant<std::int64_t, std::string> value;
};

class ClientError : public std::runtime_error {
 public:
  ClientError(ErrorCode code, std::string message, std::vector<ErrorDetail> details = {})
      : std::runtime_error(message), _code(code), _details(std::move(details)) {}

  ErrorCode code() const { return _code; }
  const std::vector<ErrorDetail>& details() const { return _details; }

 private:
  ErrorCode _code;
  std::vector<ErrorDetail> _details;
};

/// A missing or mistyped field of a request: 400 INVALID_REQUEST naming the field.
inline ClientError invalid_field(const std::string& field, const std::string& why) {
  return ClientError(ErrorCode::InvalidRequest, why, {{"field", field}});
}

/// Storage or coordination cannot be reached: 503, and nothing was changed.
class Unavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace concertd
