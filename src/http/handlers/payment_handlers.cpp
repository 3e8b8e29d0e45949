// POST /api/payments
#include <boost/json.hpp>

#include "domain/errors.hpp"
#include "domain/validation.hpp"
#include "http/auth.hpp"
#include "http/codec.hpp"
#include "http/handlers/app.hpp"
#include "http/handlers/idempotent.hpp"

namespace concertd::http {
namespace {

Task<Response> pay(App& app, Request& request) {
  const TokenView token =
      co_await app.queue.authenticate(bearer_token(request), TokenUse::Grace, nullptr, request.token_memo);
  const auto stamp = idempotency_stamp(request, "payment");
  // Named first: GCC 12 mishandles temporaries passed to a co_awaited call.
  const std::function<Task<Response>(const std::string&)> replay = [&app](const std::string& ref) -> Task<Response> {
    co_return json_response(200, to_json(co_await app.payments.recorded_payment(ref)));
  };
  const std::function<Task<Response>()> work = [&]() -> Task<Response> {
    app.queue.require_admitted(token);
    const auto body = parse_object(request.body);
    const std::string reservation_id = reservation_id_field(body);
    const PaymentReceipt receipt = co_await app.payments.pay(token, reservation_id, stamp);
    app.metrics.count_payment();
    co_return json_response(200, to_json(receipt));
  };
  co_return co_await run_idempotent(app, token.user_id, stamp, replay, work);
}

}  // namespace

void add_payment_routes(Router& router, App& app) {
  router.add("POST", "/api/payments", [&app](Request& r) { return pay(app, r); });
}

}  // namespace concertd::http
