// POST /api/admin/concerts, GET /api/admin/queue
#include <boost/json.hpp>

#include "domain/errors.hpp"
#include "http/auth.hpp"
#include "http/codec.hpp"
#include "http/handlers/app.hpp"

namespace concertd::http {
namespace {

namespace json = boost::json;

std::optional<std::int64_t> optional_integer(const json::object& body, std::string_view name) {
  if (!body.contains(name)) {
    return std::nullopt;
  }
  return require_integer(body, name);
}

Task<Response> create_concert(App& app, Request& request) {
  require_admin(request, app.admin_key);
  const auto body = parse_object(request.body);
  ConcertDraft draft;
  draft.title = require_string(body, "title");
  draft.venue = require_string(body, "venue");
  draft.date = require_string(body, "date");
  draft.seat_count = optional_integer(body, "seatCount");
  draft.price = optional_integer(body, "price");
  if (const auto* prices = body.if_contains("prices")) {
    if (!prices->is_array()) {
      throw invalid_field("prices", "prices must be an array of integers");
    }
    std::vector<Money> list;
    for (const auto& p : prices->get_array()) {
      if (!p.is_int64()) {
        throw invalid_field("prices", "prices must be an array of integers");
      }
      list.push_back(p.get_int64());
    }
    draft.prices = std::move(list);
  }
  const ConcertId id = co_await app.concerts.create(std::move(draft));
  co_return json_response(201, json::object{{"concertId", id}});
}

Task<Response> queue_overview(App& app, Request& request) {
  require_admin(request, app.admin_key);
  const QueueStats stats = co_await app.queue.stats();
  co_return json_response(200, json::object{{"waiting", stats.waiting},
                                            {"active", stats.active},
                                            {"maxActive", app.max_active},
                                            {"admittedPerMinute", stats.admitted_last_minute}});
}

}  // namespace

void add_admin_routes(Router& router, App& app) {
  router.add("POST", "/api/admin/concerts", [&app](Request& r) { return create_concert(app, r); });
  router.add("GET", "/api/admin/queue", [&app](Request& r) { return queue_overview(app, r); });
}

}  // namespace concertd::http
