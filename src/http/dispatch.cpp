#include "http/dispatch.hpp"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "domain/errors.hpp"
#include "http/codec.hpp"

namespace concertd::http {

std::optional<Response> route_refusal(const RouteMatch& match) {
  if (match.handler) {
    return std::nullopt;
  }
  if (match.allow.empty()) {
    return error_response(ClientError(ErrorCode::NotFound, "요청한 경로를 찾을 수 없습니다"));
  }
  Response r = error_response(ClientError(ErrorCode::MethodNotAllowed, "허용되지 않는 메서드입니다"));
  r.headers.emplace_back("Allow", match.allow);
  return r;
}

Task<Response> dispatch(const Router& router, Request& request, std::string& route) {
  try {
    const RouteMatch match = router.match(request);
    route = match.route == nullptr ? "unmatched" : *match.route;
    if (auto refusal = route_refusal(match)) {
      co_return std::move(*refusal);
    }
    co_return co_await (*match.handler)(request);
  } catch (const ClientError& e) {
    co_return error_response(e);
  } catch (const Unavailable& e) {
    spdlog::warn("{} {}: service unavailable: {}", request.method, route, e.what());
    co_return error_response(ClientError(ErrorCode::ServiceUnavailable, "일시적으로 서비스를 이용할 수 없습니다"));
  } catch (const std::exception& e) {
    spdlog::error("{} {}: internal error: {}", request.method, route, e.what());
    Response r = json_response(500, boost::json::object{{"error", "internal error"}, {"code", "INTERNAL"}});
    co_return r;
  }
}

}  // namespace concertd::http
