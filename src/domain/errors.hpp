#pragma once
// Client-facing failures. Services throw ClientError; the HTTP edge maps each code to a status
// in one place (http/codec.cpp). Anything else thrown is a server fault. What a fan reads is in
// one catalog (errors.cpp): each Refusal has its code and its Korean message there.
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

/// Why a request is refused. Several may share a code (the code is what clients branch on; the
/// message says which case it was).
enum class Refusal {
  RouteNotFound,
  MethodNotAllowed,
  PayloadTooLarge,
  MalformedHttp,
  BodyNotJson,
  BodyNotObject,
  ServiceUnavailable,
  RateLimited,
  MissingToken,
  InvalidToken,
  UserAuthRequired,
  AdminKeyRequired,
  OtherUsersToken,
  OtherUsersBalance,
  TokenForOtherUser,
  StillWaiting,
  NotOpenYet,
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
};

struct ErrorDetail {
  std::string key;
  std::variant<std::int64_t, std::string> value;
};

class ClientError : public std::runtime_error {
 public:
  explicit ClientError(Refusal why, std::vector<ErrorDetail> details = {});

  ErrorCode code() const { return _code; }
  const std::vector<ErrorDetail>& details() const { return _details; }

 private:
  ClientError(ErrorCode code, const std::string& message, std::vector<ErrorDetail> details)
      : std::runtime_error(message), _code(code), _details(std::move(details)) {}
  friend ClientError invalid_field(const std::string& field, const std::string& why);

  ErrorCode _code;
  std::vector<ErrorDetail> _details;
};

/// A missing or mistyped field of a request: 400 INVALID_REQUEST naming the field, and `why` in
/// the field's own terms (its range, its format).
inline ClientError invalid_field(const std::string& field, const std::string& why) {
  return ClientError(ErrorCode::InvalidRequest, why, {{"field", field}});
}

/// Storage or coordination cannot be reached: 503, and nothing was changed.
class Unavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace concertd
