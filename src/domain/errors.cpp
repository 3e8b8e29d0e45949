#include "domain/errors.hpp"

#include "domain/assert.hpp"

namespace concertd {
namespace {

struct CatalogEntry {
  ErrorCode code;
  const char* message;
};

/// The catalog: every refusal's code and what the fan reads.
CatalogEntry entry(Refusal why) {
  using C = ErrorCode;
  switch (why) {
    case Refusal::RouteNotFound:
      return {C::NotFound, "요청한 경로를 찾을 수 없습니다"};
    case Refusal::MethodNotAllowed:
      return {C::MethodNotAllowed, "허용되지 않는 메서드입니다"};
    case Refusal::PayloadTooLarge:
      return {C::PayloadTooLarge, "요청 본문이 너무 큽니다"};
    case Refusal::MalformedHttp:
      return {C::InvalidRequest, "잘못된 HTTP 요청입니다"};
    case Refusal::BodyNotJson:
      return {C::InvalidRequest, "요청 본문이 올바른 JSON이 아닙니다"};
    case Refusal::BodyNotObject:
      return {C::InvalidRequest, "요청 본문은 JSON 객체여야 합니다"};
    case Refusal::ServiceUnavailable:
      return {C::ServiceUnavailable, "일시적으로 서비스를 이용할 수 없습니다"};
    case Refusal::RateLimited:
      return {C::RateLimited, "요청이 너무 많습니다. 잠시 후 다시 시도해주세요"};
    case Refusal::MissingToken:
      return {C::MissingToken, "대기열 토큰이 필요합니다 (Authorization: Bearer <token>)"};
    case Refusal::InvalidToken:
      return {C::InvalidToken, "유효하지 않은 토큰입니다. 토큰을 다시 발급받아 주세요"};
    case Refusal::UserAuthRequired:
      return {C::UserAuthRequired, "사용자 인증이 필요합니다 (X-User-Auth)"};
    case Refusal::AdminKeyRequired:
      return {C::AdminKeyRequired, "관리자 키가 필요합니다 (X-Admin-Key)"};
    case Refusal::OtherUsersToken:
      return {C::Forbidden, "다른 사용자의 토큰입니다"};
    case Refusal::OtherUsersBalance:
      return {C::Forbidden, "다른 사용자의 잔액은 조회할 수 없습니다"};
    case Refusal::TokenForOtherUser:
      return {C::Forbidden, "다른 사용자의 토큰은 발급할 수 없습니다"};
    case Refusal::StillWaiting:
      return {C::TokenNotActive, "아직 대기 중입니다. 순서가 되면 이용할 수 있습니다"};
    case Refusal::NotOpenYet:
      return {C::TokenNotActive, "아직 예매가 열리지 않았습니다. 오픈 시각에 순서가 정해집니다"};
    case Refusal::ConcertNotFound:
      return {C::ConcertNotFound, "콘서트를 찾을 수 없습니다"};
    case Refusal::SeatNotFound:
      return {C::SeatNotFound, "좌석을 찾을 수 없습니다"};
    case Refusal::ReservationNotFound:
      return {C::ReservationNotFound, "예약을 찾을 수 없습니다"};
    case Refusal::HoldLimitExceeded:
      return {C::HoldLimitExceeded, "한 사용자가 동시에 선택할 수 있는 좌석 수를 넘었습니다"};
    case Refusal::SeatAlreadyAssigned:
      return {C::SeatAlreadyAssigned, "이미 다른 사용자가 선택한 좌석입니다"};
    case Refusal::SeatLocked:
      return {C::SeatLocked, "다른 사용자가 처리 중입니다. 잠시 후 재시도해주세요"};
    case Refusal::ReservationNotCancellable:
      return {C::ReservationNotCancellable, "취소할 수 없는 예약입니다"};
    case Refusal::InvalidAmount:
      return {C::InvalidAmount, "충전 금액이 올바르지 않습니다"};
    case Refusal::BalanceLimitExceeded:
      return {C::BalanceLimitExceeded, "잔액 한도(100,000,000원)를 초과할 수 없습니다"};
    case Refusal::InsufficientBalance:
      return {C::InsufficientBalance, "잔액이 부족합니다"};
    case Refusal::InvalidReservation:
      return {C::InvalidReservation, "유효하지 않은 예약입니다"};
    case Refusal::IdempotencyKeyReused:
      return {C::IdempotencyKeyReused, "이 Idempotency-Key는 다른 요청에 이미 사용되었습니다"};
    case Refusal::IdempotencyKeyInUse:
      return {C::IdempotencyKeyInUse, "같은 Idempotency-Key의 요청이 처리 중입니다"};
  }
  CONCERTD_UNREACHABLE("every refusal is in the catalog");
}

}  // namespace

ClientError::ClientError(Refusal why, std::vector<ErrorDetail> details)
    : ClientError(entry(why).code, entry(why).message, std::move(details)) {}

}  // namespace concertd
