// POST /api/admin/concerts, GET /api/admin/sales, GET and POST /api/admin/queue
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

/// The operators' dashboard's sales numbers (not in the fans' contract): totals over every concert,
/// then the newest concerts one by one.
Task<Response> sales(App& app, Request& request) {
  require_admin(request, app.admin_key);
  const SalesSummary summary = co_await app.concerts.sales();
  json::array concerts;
  concerts.reserve(summary.concerts.size());
  for (const ConcertSales& c : summary.concerts) {
    concerts.push_back(json::object{{"concertId", c.id},
                                    {"title", c.title},
                                    {"venue", c.venue},
                                    {"date", format_date(c.date)},
                                    {"seatCount", c.seat_count},
                                    {"held", c.held},
                                    {"sold", c.sold},
                                    {"revenue", c.revenue}});
  }
  co_return json_response(200, json::object{{"held", summary.held},
                                            {"sold", summary.sold},
                                            {"revenue", summary.revenue},
                                            {"released", summary.released},
                                            {"cancelled", summary.cancelled},
                                            {"concertCount", summary.concert_count},
                                            {"concerts", std::move(concerts)}});
}

json::value optional_json(const std::optional<std::int64_t>& value) {
  return value ? json::value(*value) : json::value(nullptr);
}

json::value optional_json(const std::optional<Timestamp>& value) {
  return value ? json::value(format_rfc3339(*value)) : json::value(nullptr);
}

/// GET and POST /api/admin/queue answer the whole state: the line's counts and the settings.
Task<Response> room_state(App& app) {
  const QueueStats stats = co_await app.queue.stats();
  const RoomSettings& room = app.room.settings();
  // The seed belongs to the opening of the opensAt shown; a later opensAt has none yet.
  const bool opened = room.opened_for && room.opened_for == room.opens_at;
  co_return json_response(
      200, json::object{
               {"waiting", stats.waiting},
               {"active", stats.active},
               {"preQueue", stats.pre_queue},
               {"maxActive", room.max_active},
               {"admittedPerMinute", stats.admitted_last_minute},
               {"paused", room.paused},
               {"admitPerMinute", optional_json(room.admit_per_minute)},
               {"opensAt", optional_json(room.opens_at)},
               {"openedAt", opened ? optional_json(room.opened_at) : json::value(nullptr)},
               {"shuffleSeed", opened && room.shuffle_seed ? json::value(*room.shuffle_seed) : json::value(nullptr)}});
}

Task<Response> queue_overview(App& app, Request& request) {
  require_admin(request, app.admin_key);
  co_return co_await room_state(app);
}

/// An integer setting from `min` to `max`, written as an integer (not 5.0), else 400 naming it.
std::int64_t bounded_setting(const json::object& body, const std::string& raw, std::string_view name, std::int64_t min,
                             std::int64_t max) {
  const std::string field(name);
  const auto value = wide_integer_field(body, raw, name);
  if (!value || value->too_large || value->value < min || value->value > max) {
    throw invalid_field(field,
                        field + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return value->value;
}

/// The body of POST /api/admin/queue, checked whole before anything changes. Other members are
/// ignored, as everywhere (API.md, Conventions).
RoomChange parse_room_change(const Request& request) {
  const auto body = parse_object(request.body);
  RoomChange change;
  if (body.contains("maxActive")) {
    change.max_active = bounded_setting(body, request.body, "maxActive", 1, kMaxActiveLimit);
  }
  if (const auto* cap = body.if_contains("admitPerMinute")) {
    change.admit_per_minute = std::optional<std::int64_t>();  // null: no cap
    if (!cap->is_null()) {
      change.admit_per_minute = bounded_setting(body, request.body, "admitPerMinute", 1, kAdmitPerMinuteLimit);
    }
  }
  if (const auto* paused = body.if_contains("paused")) {
    if (!paused->is_bool()) {
      throw invalid_field("paused", "paused must be true or false");
    }
    change.paused = paused->get_bool();
  }
  if (const auto* opens = body.if_contains("opensAt")) {
    std::optional<Timestamp> at;
    if (!opens->is_null()) {
      if (opens->is_string()) {
        at = parse_rfc3339(std::string_view(opens->get_string()));
      }
      if (!at) {
        throw invalid_field("opensAt", "opensAt must be an RFC 3339 time such as 2026-12-24T10:00:00.000Z, or null");
      }
    }
    change.opens_at = at;
  }
  return change;
}

Task<Response> change_room(App& app, Request& request) {
  require_admin(request, app.admin_key);
  const RoomChange change = parse_room_change(request);
  co_await app.room.change(change);
  co_return co_await room_state(app);
}

}  // namespace

void add_admin_routes(Router& router, App& app) {
  router.add("POST", "/api/admin/concerts", [&app](Request& r) { return create_concert(app, r); });
  router.add("GET", "/api/admin/sales", [&app](Request& r) { return sales(app, r); });
  router.add("GET", "/api/admin/queue", [&app](Request& r) { return queue_overview(app, r); });
  router.add("POST", "/api/admin/queue", [&app](Request& r) { return change_room(app, r); });
}

}  // namespace concertd::http
