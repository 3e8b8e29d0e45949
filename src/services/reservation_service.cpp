#include "services/reservation_service.hpp"

#include <spdlog/spdlog.h>

#include "domain/assert.hpp"
#include "domain/errors.hpp"
#include "domain/random.hpp"

namespace concertd {
ReservationService::ReservationService(Store& store, Coordinator& coordinator, ConcertService& concerts,
                                       const Clock& clock, const ServiceConfig& config)
    : _store(store), _coordinator(coordinator), _concerts(concerts), _clock(clock), _config(config) {}

Task<Reservation> ReservationService::hold(const std::string& user_id, ConcertId concert_id, std::int64_t seat_number) {
  const ConcertInfo concert = co_await _concerts.info(concert_id);
  if (seat_number < 1 || seat_number > concert.seat_count) {
    throw ClientError(Refusal::SeatNotFound);
  }
  const int seat = static_cast<int>(seat_number);
  const std::string reservation_id = random_id("res-", _clock.now());
  if (!co_await _coordinator.try_lock_seat(concert_id, seat, reservation_id, kSeatLockTtl)) {
    throw ClientError(Refusal::SeatLocked);
  }
  const Timestamp now = _clock.now();
  HoldOutcome outcome;
  std::exception_ptr failure;
  try {
    HoldRequest request{
        reservation_id, user_id, concert_id, seat, now, now + _config.hold_ttl, _config.max_holds_per_user};
    outcome = co_await _store.hold_seat(std::move(request));
  } catch (...) {
    failure = std::current_exception();
  }
  try {
    co_await _coordinator.unlock_seat(concert_id, seat, reservation_id);
  } catch (const Unavailable& e) {
    /// The store has decided (a written hold must not be answered 503, which promises that
    /// nothing changed); the lock lapses by itself after kSeatLockTtl.
    spdlog::warn("seat lock {}/{} not released (lapses in {} ms): {}", concert_id, seat, kSeatLockTtl.count(),
                 e.what());
  }
  if (failure) {
    std::rethrow_exception(failure);
  }
  switch (outcome.kind) {
    case HoldOutcome::Kind::Held:
      co_return outcome.reservation;
    case HoldOutcome::Kind::ConcertNotFound:
      throw ClientError(Refusal::ConcertNotFound);
    case HoldOutcome::Kind::SeatNotFound:
      throw ClientError(Refusal::SeatNotFound);
    case HoldOutcome::Kind::HoldLimitExceeded:
      throw ClientError(Refusal::HoldLimitExceeded,
                        {{"maxHolds", static_cast<std::int64_t>(_config.max_holds_per_user)}});
    case HoldOutcome::Kind::AlreadyAssigned: {
      std::vector<ErrorDetail> details;
      if (outcome.own_reservation_id) {
        details.push_back({"reservationId", *outcome.own_reservation_id});
      }
      throw ClientError(Refusal::SeatAlreadyAssigned, std::move(details));
    }
  }
  CONCERTD_UNREACHABLE("a hold outcome no case handles");
}

Task<Reservation> ReservationService::get(const std::string& user_id, const std::string& reservation_id) {
  auto found = co_await _store.find_reservation(reservation_id, _clock.now());
  if (!found || found->user_id != user_id) {
    throw ClientError(Refusal::ReservationNotFound);
  }
  co_return std::move(*found);
}

Task<void> ReservationService::cancel(const std::string& user_id, const std::string& reservation_id) {
  const CancelOutcome outcome = co_await _store.cancel_reservation(reservation_id, user_id, _clock.now());
  switch (outcome) {
    case CancelOutcome::Cancelled:
      co_return;
    case CancelOutcome::NotFound:
      throw ClientError(Refusal::ReservationNotFound);
    case CancelOutcome::NotCancellable:
      throw ClientError(Refusal::ReservationNotCancellable);
  }
}

}  // namespace concertd
