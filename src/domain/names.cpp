#include "domain/errors.hpp"
#include "domain/model.hpp"

namespace concertd {

const char* code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidRequest:
      return "INVALID_REQUEST";
    case ErrorCode::NotFound:
      return "NOT_FOUND";
    case ErrorCode::MethodNotAllowed:
      return "METHOD_NOT_ALLOWED";
    case ErrorCode::PayloadTooLarge:
      return "PAYLOAD_TOO_LARGE";
    case ErrorCode::RateLimited:
      return "RATE_LIMITED";
    case ErrorCode::MissingToken:
      return "MISSING_TOKEN";
    case ErrorCode::InvalidToken:
      return "INVALID_TOKEN";
    case ErrorCode::UserAuthRequired:
      return "USER_AUTH_REQUIRED";
    case ErrorCode::AdminKeyRequired:
      return "ADMIN_KEY_REQUIRED";
    case ErrorCode::Forbidden:
      return "FORBIDDEN";
    case ErrorCode::TokenNotActive:
      return "TOKEN_NOT_ACTIVE";
    case ErrorCode::ConcertNotFound:
      return "CONCERT_NOT_FOUND";
    case ErrorCode::SeatNotFound:
      return "SEAT_NOT_FOUND";
    case ErrorCode::ReservationNotFound:
      return "RESERVATION_NOT_FOUND";
    case ErrorCode::HoldLimitExceeded:
      return "HOLD_LIMIT_EXCEEDED";
    case ErrorCode::SeatAlreadyAssigned:
      return "SEAT_ALREADY_ASSIGNED";
    case ErrorCode::SeatLocked:
      return "SEAT_LOCKED";
    case ErrorCode::ReservationNotCancellable:
      return "RESERVATION_NOT_CANCELLABLE";
    case ErrorCode::InvalidAmount:
      return "INVALID_AMOUNT";
    case ErrorCode::BalanceLimitExceeded:
      return "BALANCE_LIMIT_EXCEEDED";
    case ErrorCode::InsufficientBalance:
      return "INSUFFICIENT_BALANCE";
    case ErrorCode::InvalidReservation:
      return "INVALID_RESERVATION";
    case ErrorCode::IdempotencyKeyReused:
      return "IDEMPOTENCY_KEY_REUSED";
    case ErrorCode::IdempotencyKeyInUse:
      return "IDEMPOTENCY_KEY_IN_USE";
    case ErrorCode::ServiceUnavailable:
      return "SERVICE_UNAVAILABLE";
  }
  return "INTERNAL";
}

const char* seat_status_name(SeatStatus s) {
  switch (s) {
    case SeatStatus::Available:
      return "available";
    case SeatStatus::TemporarilyAssigned:
      return "temporarily_assigned";
    case SeatStatus::Reserved:
      return "reserved";
  }
  return "available";
}

const char* reservation_status_name(ReservationStatus s) {
  switch (s) {
    case ReservationStatus::TemporarilyAssigned:
      return "TEMPORARILY_ASSIGNED";
    case ReservationStatus::Confirmed:
      return "CONFIRMED";
    case ReservationStatus::Cancelled:
      return "CANCELLED";
    case ReservationStatus::Expired:
      return "EXPIRED";
  }
  return "TEMPORARILY_ASSIGNED";
}

ReservationStatus reservation_status_from(std::string_view name) {
  if (name == "CONFIRMED") {
    return ReservationStatus::Confirmed;
  }
  if (name == "CANCELLED") {
    return ReservationStatus::Cancelled;
  }
  if (name == "EXPIRED") {
    return ReservationStatus::Expired;
  }
  return ReservationStatus::TemporarilyAssigned;
}

const char* token_state_name(TokenState s) {
  switch (s) {
    case TokenState::Waiting:
      return "WAITING";
    case TokenState::Active:
      return "ACTIVE";
    case TokenState::Spent:
      return "SPENT";
    case TokenState::Dropped:
      return "DROPPED";
    case TokenState::PreQueue:
      return "PRE_QUEUE";
  }
  return "DROPPED";
}

TokenState token_state_from(std::string_view name) {
  if (name == "WAITING") {
    return TokenState::Waiting;
  }
  if (name == "ACTIVE") {
    return TokenState::Active;
  }
  if (name == "SPENT") {
    return TokenState::Spent;
  }
  if (name == "PRE_QUEUE") {
    return TokenState::PreQueue;
  }
  return TokenState::Dropped;
}

}  // namespace concertd
