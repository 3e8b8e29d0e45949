// POST and GET /api/users/{userId}/balance
#include <boost/json.hpp>

#include "domain/errors.hpp"
#include "http/auth.hpp"
#include "http/codec.hpp"
#include "http/handlers/app.hpp"
#include "http/handlers/idempotent.hpp"

namespace concertd::http {
namespace {

namespace json = boost::json;

Task<Response> charge(App& app, Request& request) {
  const std::string user_id = user_id_param(request);
  const TokenView token =
      co_await app.queue.authenticate(bearer_token(request), TokenUse::Grace, &user_id, request.token_memo);
  const auto stamp = idempotency_stamp(request, "charge");
  // Named first: GCC 12 mishandles temporaries passed to a co_awaited call.
  const std::function<Task<Response>(const std::string&)> replay = [&app](const std::string& ref) -> Task<Response> {
    co_return json_response(200, to_json(co_await app.balances.recorded_charge(ref)));
  };
  const std::function<Task<Response>()> work = [&]() -> Task<Response> {
    app.queue.require_admitted(token);
    const auto body = parse_object(request.body);
    const auto amount = integer_field(body, "amount");
    if (!amount) {
      throw ClientError(Refusal::InvalidAmount);
    }
    co_return json_response(200, to_json(co_await app.balances.charge(user_id, *amount, stamp)));
  };
  co_return co_await run_idempotent(app, user_id, stamp, replay, work);
}

Task<Response> read_balance(App& app, Request& request) {
  const std::string user_id = user_id_param(request);
  if (const auto authenticated = app.edge.authenticated_user(request, app.clock.now());
      authenticated && *authenticated != user_id) {
    throw ClientError(Refusal::OtherUsersBalance);
  }
  const BalanceView view = co_await app.balances.get(user_id);
  json::object out{{"userId", view.user_id}, {"balance", view.balance}, {"lastUpdated", nullptr}};
  if (view.last_updated) {
    out["lastUpdated"] = format_rfc3339(*view.last_updated);
  }
  co_return json_response(200, out);
}

}  // namespace

void add_balance_routes(Router& router, App& app) {
  router.add("POST", "/api/users/{userId}/balance", [&app](Request& r) { return charge(app, r); });
  router.add("GET", "/api/users/{userId}/balance", [&app](Request& r) { return read_balance(app, r); });
}

}  // namespace concertd::http
