// GET /api/concerts/available-dates, GET /api/concerts/{concertId}/seats
#include <memory>
#include <mutex>
#include <unordered_map>

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

/// The body last written for each concert's map, reused while the map is the same: at a ticket
/// opening thousands of fans read the same few maps between two writes, and writing 50 seats
/// cost more than the rest of the request. Comparing two maps is a few hundred bytes.
class SeatMapBodies {
 public:
  std::string body_for(const SeatMap& map) {
    std::lock_guard lock(_mutex);
    if (auto it = _last.find(map.concert_id); it != _last.end() && it->second.map == map) {
      return it->second.body;
    }
    if (_last.size() >= kMaxConcerts) {
      _last.clear();  // only a memo: the maps come back on their next read
    }
    Rendered& r = _last[map.concert_id];
    r.map = map;
    r.body = render(map);
    return r.body;
  }

 private:
  static constexpr std::size_t kMaxConcerts = 1024;
  struct Rendered {
    SeatMap map;
    std::string body;
  };

  static std::string render(const SeatMap& map) {
    JsonWriter out;
    out.reserve(64 + map.seats.size() * 56);
    out.field("concertId", map.concert_id).field("date", format_date(map.date)).begin_array("seats");
    for (const auto& s : map.seats) {
      out.item()
          .field("number", s.number)
          .field("status", seat_status_name(s.status))
          .field("price", s.price)
          .end_item();
    }
    out.end_array();
    return std::move(out).finish();
  }

  std::mutex _mutex;
  std::unordered_map<ConcertId, Rendered> _last;
};

Task<Response> seat_map(App& app, SeatMapBodies& bodies, Request& request) {
  const ConcertId id = concert_id_param(request);
  const SeatMap map = co_await app.concerts.seats(id);
  co_return json_response(200, bodies.body_for(map));
}

}  // namespace

void add_concert_routes(Router& router, App& app) {
  router.add("GET", "/api/concerts/available-dates", [&app](Request& r) { return available_dates(app, r); });
  auto bodies = std::make_shared<SeatMapBodies>();
  router.add("GET", "/api/concerts/{concertId}/seats",
             [&app, bodies](Request& r) { return seat_map(app, *bodies, r); });
}

}  // namespace concertd::http
