#include "http/dispatch.hpp"

#include <iterator>
#include <string_view>

#include <spdlog/spdlog.h>
#include <boost/beast/core/string.hpp>
#include <boost/json.hpp>

#include "domain/errors.hpp"
#include "domain/validation.hpp"
#include "http/codec.hpp"

namespace concertd::http {

std::optional<Response> route_refusal(const RouteMatch& match) {
  if (match.handler) {
    return std::nullopt;
  }
  if (match.allow.empty()) {
    return error_response(ClientError(Refusal::RouteNotFound));
  }
  Response r = error_response(ClientError(Refusal::MethodNotAllowed));
  r.headers.emplace_back("Allow", match.allow);
  return r;
}

namespace {

/// Any Transfer-Encoding but a single `chunked` (Beast also takes "identity, chunked", a second
/// header, or chunked in HTTP/1.0, whose intermediaries do not know it).
bool untrusted_transfer_coding(const BeastRequest& request) {
  const auto [first, last] = request.equal_range(boost::beast::http::field::transfer_encoding);
  if (first == last) {
    return false;
  }
  if (request.version() < 11 || std::next(first) != last) {
    return true;
  }
  return !boost::beast::iequals(trim_blanks(first->value()), "chunked");
}

}  // namespace

std::optional<Response> framing_refusal(Framing framing, RequestParser& parser, const Router& router) {
  if (framing == Framing::Complete && untrusted_transfer_coding(parser.get())) {
    framing = Framing::Malformed;
  }
  switch (framing) {
    case Framing::NeedMore:
    case Framing::Complete:
      return std::nullopt;
    case Framing::TooLarge: {
      Request head = to_request(std::move(parser.get()), "");
      if (auto refusal = route_refusal(router.match(head))) {
        return refusal;
      }
      return error_response(ClientError(Refusal::PayloadTooLarge));
    }
    case Framing::Malformed:
      break;
  }
  return error_response(ClientError(Refusal::MalformedHttp));
}

Task<Response> dispatch(const Router& router, Request& request, std::string_view& route) {
  try {
    const RouteMatch match = router.match(request);
    route = match.route == nullptr ? std::string_view("unmatched") : std::string_view(*match.route);
    if (auto refusal = route_refusal(match)) {
      co_return std::move(*refusal);
    }
    co_return co_await (*match.handler)(request);
  } catch (const ClientError& e) {
    co_return error_response(e);
  } catch (const Unavailable& e) {
    spdlog::warn("{} {}: service unavailable: {}", request.method, route, e.what());
    co_return error_response(ClientError(Refusal::ServiceUnavailable));
  } catch (const std::exception& e) {
    spdlog::error("{} {}: internal error: {}", request.method, route, e.what());
    Response r = json_response(500, boost::json::object{{"error", "internal error"}, {"code", "INTERNAL"}});
    co_return r;
  }
}

}  // namespace concertd::http
