// POST /api/reservations, GET and DELETE /api/reservations/{reservationId}
#include <limits>

#include <boost/json.hpp>

#include "domain/errors.hpp"
#include "domain/queue_rules.hpp"
#include "domain/validation.hpp"
#include "http/auth.hpp"
#include "http/codec.hpp"
#include "http/handlers/app.hpp"

namespace concertd::http {
namespace {

namespace json = boost::json;

Task<Response> hold(App& app, Request& request) {
  const TokenView token =
      co_await app.queue.authenticate(bearer_token(request), TokenUse::Hold, nullptr, request.token_memo);
  app.queue.require_admitted(token);
  const auto body = parse_object(request.body);
  const ConcertId concert_id = concert_id_field(body);
  const auto seat_field = wide_integer_field(body, request.body, "seatNumber");
  if (!seat_field) {
    throw invalid_field("seatNumber", "seatNumber must be an integer");
  }
  // An integer beyond int64 is still an integer, only outside every seat map: 404 later.
  const std::int64_t seat = seat_field->too_large ? std::numeric_limits<std::int64_t>::max() : seat_field->value;
  const Reservation r = co_await app.reservations.hold(token.user_id, concert_id, seat);
  app.metrics.count_hold();
  json::object out = to_json(r);
  out["message"] = hold_message(app.reservations.hold_ttl());
  co_return json_response(201, out);
}

Task<Response> get_reservation(App& app, Request& request) {
  const std::string id = reservation_id_param(request);
  const TokenView token =
      co_await app.queue.authenticate(bearer_token(request), TokenUse::Grace, nullptr, request.token_memo);
  app.queue.require_admitted(token);
  co_return json_response(200, to_json(co_await app.reservations.get(token.user_id, id)));
}

Task<Response> cancel_reservation(App& app, Request& request) {
  const std::string id = reservation_id_param(request);
  const TokenView token =
      co_await app.queue.authenticate(bearer_token(request), TokenUse::Grace, nullptr, request.token_memo);
  app.queue.require_admitted(token);
  co_await app.reservations.cancel(token.user_id, id);
  co_return json_response(200, json::object{{"reservationId", id}, {"status", "CANCELLED"}});
}

}  // namespace

void add_reservation_routes(Router& router, App& app) {
  router.add("POST", "/api/reservations", [&app](Request& r) { return hold(app, r); });
  router.add("GET", "/api/reservations/{reservationId}", [&app](Request& r) { return get_reservation(app, r); });
  router.add("DELETE", "/api/reservations/{reservationId}", [&app](Request& r) { return cancel_reservation(app, r); });
}

}  // namespace concertd::http
