// GET /healthz, /readyz, /metrics
#include <boost/json.hpp>

#include "domain/errors.hpp"
#include "http/codec.hpp"
#include "http/handlers/app.hpp"

namespace concertd::http {
namespace {

namespace json = boost::json;

Task<Response> ready(App& app) {
  bool ok = false;
  try {
    ok = co_await app.ready();
  } catch (const std::exception&) {
    ok = false;  // unreachable storage is exactly what this endpoint reports
  }
  if (!ok) {
    co_return json_response(503, json::object{{"status", "unavailable"}, {"code", "SERVICE_UNAVAILABLE"}});
  }
  co_return json_response(200, json::object{{"status", "ready"}});
}

Task<Response> metrics(App& app) {
  std::optional<QueueStats> stats;
  try {
    stats = co_await app.queue.stats();
  } catch (const Unavailable&) {
    // An outage is when the scrape matters most: serve the rest (render() says what is missing).
  }
  Response r;
  r.body = app.metrics.render(stats);
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  co_return r;
}

}  // namespace

void add_ops_routes(Router& router, App& app) {
  router.add("GET", "/healthz", [](Request&) -> Task<Response> {
    co_return json_response(200, json::object{{"status", "ok"}});
  });
  router.add("GET", "/readyz", [&app](Request&) { return ready(app); });
  router.add("GET", "/metrics", [&app](Request&) { return metrics(app); });
}

}  // namespace concertd::http
