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

void put_wait(JsonWriter& body, const WaitEstimate& wait) {
  body.field("estimatedWaitTime", wait.text)
      .field("estimatedWaitSeconds", wait.seconds)
      .field("pollAfterSeconds", wait.poll_after_seconds);
}

void put_pre_queue(JsonWriter& body, const QueueTicket& ticket) {
  body.field("status", "pre_queue")
      .field("opensAt", format_rfc3339(ticket.opens_at.value()))
      .field("pollAfterSeconds", ticket.pre_queue_poll_seconds);
}

Task<Response> issue_token(App& app, Request& request) {
  app.edge.limit_token_issue(request, app.clock.now());
  const auto authenticated = app.edge.authenticated_user(request, app.clock.now());
  const auto body = parse_object(request.body);
  if (const auto* named = body.if_contains("userId");
      authenticated && named && named->is_string() && named->get_string() != *authenticated) {
    throw ClientError(Refusal::TokenForOtherUser);
  }
  const std::string user_id = user_id_field(body);
  const QueueTicket ticket = co_await app.queue.issue(user_id);
  JsonWriter out;
  out.field("token", ticket.signed_token).field("userId", ticket.token.user_id);
  if (ticket.token.state == TokenState::PreQueue) {
    put_pre_queue(out, ticket);
  } else {
    out.field("status", ticket.token.state == TokenState::Active ? "active" : "waiting")
        .field("queuePosition", ticket.token.position);
  }
  out.field("issuedAt", format_rfc3339(ticket.token.issued_at));
  if (ticket.wait) {
    put_wait(out, *ticket.wait);
  }
  if (ticket.token.active_until) {
    out.field("activeUntil", format_rfc3339(*ticket.token.active_until));
  }
  co_return json_response(ticket.created ? 201 : 200, std::move(out).finish());
}

Task<Response> queue_status(App& app, Request& request) {
  const QueueTicket ticket = co_await app.queue.status(bearer_token(request), request.token_memo);
  JsonWriter out;
  if (ticket.token.state == TokenState::Active) {
    out.field("status", "active").field("activeUntil", format_rfc3339(*ticket.token.active_until));
  } else if (ticket.token.state == TokenState::PreQueue) {
    put_pre_queue(out, ticket);
  } else {
    out.field("status", "waiting").field("position", ticket.token.position);
    put_wait(out, *ticket.wait);
  }
  co_return json_response(200, std::move(out).finish());
}

}  // namespace

void add_queue_routes(Router& router, App& app) {
  router.add("POST", "/api/queue/token", [&app](Request& r) { return issue_token(app, r); });
  router.add("GET", "/api/queue/status", [&app](Request& r) { return queue_status(app, r); });
}

}  // namespace concertd::http
