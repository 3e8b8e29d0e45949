// POST /api/queue/token, GET /api/queue/status
#include <boost/json.hpp>

#include "domain/errors.hpp"
#include "domain/validation.hpp"
#include "http/auth.hpp"
#include "http/codec.hpp"
#include "http/handlers/app.hpp"

namespace concertd::http {
namespace {

namespace json = boost::json;

void put_wait(json::object& body, const WaitEstimate& wait) {
  body["estimatedWaitTime"] = wait.text;
  body["estimatedWaitSeconds"] = wait.seconds;
  body["pollAfterSeconds"] = wait.poll_after_seconds;
}

Task<Response> issue_token(App& app, Request& request) {
  app.edge.limit_token_issue(request, app.clock.now());
  const auto authenticated = app.edge.authenticated_user(request, app.clock.now());
  const auto body = parse_object(request.body);
  if (const auto* named = body.if_contains("userId");
      authenticated && named && named->is_string() && named->get_string() != *authenticated) {
    throw ClientError(ErrorCode::Forbidden, "다른 사용자의 토큰은 발급할 수 없습니다");
  }
  const std::string user_id = require_string(body, "userId");
  if (!is_valid_user_id(user_id)) {
    throw invalid_field("userId", "userId must be 1 to 64 characters of A-Z a-z 0-9 . _ @ -");
  }
  const QueueTicket ticket = co_await app.queue.issue(user_id);
  json::object out{{"token", ticket.token.id},
                   {"userId", ticket.token.user_id},
                   {"status", ticket.token.state == TokenState::Active ? "active" : "waiting"},
                   {"queuePosition", ticket.token.position},
                   {"issuedAt", format_rfc3339(ticket.token.issued_at)}};
  if (ticket.wait) {
    put_wait(out, *ticket.wait);
  }
  if (ticket.token.active_until) {
    out["activeUntil"] = format_rfc3339(*ticket.token.active_until);
  }
  co_return json_response(ticket.created ? 201 : 200, out);
}

Task<Response> queue_status(App& app, Request& request) {
  const QueueTicket ticket = co_await app.queue.status(bearer_token(request));
  json::object out;
  if (ticket.token.state == TokenState::Active) {
    out = {{"status", "active"}, {"activeUntil", format_rfc3339(*ticket.token.active_until)}};
  } else {
    out = {{"status", "waiting"}, {"position", ticket.token.position}};
    put_wait(out, *ticket.wait);
  }
  co_return json_response(200, out);
}

}  // namespace

void add_queue_routes(Router& router, App& app) {
  router.add("POST", "/api/queue/token", [&app](Request& r) { return issue_token(app, r); });
  router.add("GET", "/api/queue/status", [&app](Request& r) { return queue_status(app, r); });
}

}  // namespace concertd::http
