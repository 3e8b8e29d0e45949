// GET /api/concerts/available-dates, GET /api/concerts/{concertId}/seats
#include <boost/json.hpp>

#include "domain/errors.hpp"
#include "domain/validation.hpp"
#include "http/codec.hpp"
#include "http/handlers/app.hpp"

namespace concertd::http {
namespace {

namespace json = boost::json;

Task<Response> available_dates(App& app, Request&) {
  const auto concerts = co_await app.concerts.available();
  json::array dates;
  json::array list;
  for (const auto& c : concerts) {
    const std::string date = format_date(c.date);
    if (dates.empty() || dates.back().as_string() != date) {
      dates.emplace_back(date);  // concerts come sorted by date, so equal dates are adjacent
    }
    list.push_back(json::object{{"concertId", c.id},
                                {"title", c.title},
                                {"venue", c.venue},
                                {"date", date},
                                {"availableSeats", c.available_seats},
                                {"minPrice", c.min_price},
                                {"maxPrice", c.max_price}});
  }
  co_return json_response(200, json::object{{"dates", std::move(dates)}, {"concerts", std::move(list)}});
}

Task<Response> seat_map(App& app, Request& request) {
  const auto id = parse_concert_id(request.path_params.at(0));
  if (!id) {
    throw invalid_field("concertId", "concertId must be an integer from 1 to 2^63-1");
  }
  const SeatMap map = co_await app.concerts.seats(*id);
  JsonWriter out;
  out.reserve(64 + map.seats.size() * 56);
  out.field("concertId", map.concert_id).field("date", format_date(map.date)).begin_array("seats");
  for (const auto& s : map.seats) {
    out.item().field("number", s.number).field("status", seat_status_name(s.status)).field("price", s.price).end_item();
  }
  out.end_array();
  co_return json_response(200, std::move(out).finish());
}

}  // namespace

void add_concert_routes(Router& router, App& app) {
  router.add("GET", "/api/concerts/available-dates", [&app](Request& r) { return available_dates(app, r); });
  router.add("GET", "/api/concerts/{concertId}/seats", [&app](Request& r) { return seat_map(app, r); });
}

}  // namespace concertd::http
