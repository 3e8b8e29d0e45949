#pragma once
// Diagram 4 and the reservation lifecycle: hold behind the seat lock, read, cancel.
#include "ports/clock.hpp"
#include "ports/coordinator.hpp"
#include "ports/store.hpp"
#include "services/concert_service.hpp"
#include "services/config.hpp"

namespace concertd {

class ReservationService {
 public:
  /// A lock outlives a stuck holder by at most this much (only an instance crash leaves one).
  static constexpr Millis kSeatLockTtl{5000};

  ReservationService(Store& store, Coordinator& coordinator, ConcertService& concerts, const Clock& clock,
                     const ServiceConfig& config);

  Task<Reservation> hold(const std::string& user_id, ConcertId concert_id, std::int64_t seat_number);
  /// The user's reservation; another user's is 404 like an unknown one.
  Task<Reservation> get(const std::string& user_id, const std::string& reservation_id);
  Task<void> cancel(const std::string& user_id, const std::string& reservation_id);
  Seconds hold_ttl() const { return _config.hold_ttl; }

 private:
  Store& _store;
  Coordinator& _coordinator;
  ConcertService& _concerts;
  const Clock& _clock;
  ServiceConfig _config;
};

}  // namespace concertd
