#pragma once
// What the endpoint handlers share: the services, the settings they echo, the metrics.
#include <functional>

#include <boost/json/object.hpp>

#include "http/assets.hpp"
#include "http/limits.hpp"
#include "http/metrics.hpp"
#include "http/router.hpp"
#include "ports/clock.hpp"
#include "services/balance_service.hpp"
#include "services/concert_service.hpp"
#include "services/idempotency.hpp"
#include "services/payment_service.hpp"
#include "services/queue_service.hpp"
#include "services/reservation_service.hpp"
#include "services/waiting_room.hpp"

namespace concertd::http {

struct App {
  QueueService& queue;
  WaitingRoom& room;
  ConcertService& concerts;
  ReservationService& reservations;
  BalanceService& balances;
  PaymentService& payments;
  IdempotencyKeys& idempotency;
  Metrics& metrics;
  Edge& edge;
  const Assets& assets;
  const Clock& clock;
  std::string admin_key;
  /// True when storage and coordination answer.
  std::function<Task<bool>()> ready;
};

void add_queue_routes(Router& router, App& app);
void add_concert_routes(Router& router, App& app);
void add_reservation_routes(Router& router, App& app);
void add_balance_routes(Router& router, App& app);
void add_payment_routes(Router& router, App& app);
void add_admin_routes(Router& router, App& app);
void add_ops_routes(Router& router, App& app);
void add_page_routes(Router& router, App& app);

// Shared by the handlers.
/// The API's identifiers, each checked in one place with one message (400 INVALID_REQUEST naming
/// it), whether it comes in the path (percent-decoded first; the route's only parameter) or in
/// the body.
std::string user_id_param(const Request& request);
std::string reservation_id_param(const Request& request);
ConcertId concert_id_param(const Request& request);
std::string user_id_field(const boost::json::object& body);
std::string reservation_id_field(const boost::json::object& body);
ConcertId concert_id_field(const boost::json::object& body);
/// The Idempotency-Key header as a stamp for `endpoint`, or nullopt without one (400 if malformed).
std::optional<IdempotencyStamp> idempotency_stamp(const Request& request, const char* endpoint);

}  // namespace concertd::http
