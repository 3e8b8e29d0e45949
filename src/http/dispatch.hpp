#pragma once
// One request through the router and its handler, every failure turned into a response:
// the transport-free core of the server, shared with the fuzzers.
#include <optional>
#include <string>

#include "http/router.hpp"
#include "http/types.hpp"

namespace concertd::http {

/// 404 for an unknown path, 405 (with Allow) for a known path asked with another method, nothing
/// when a handler matched: the first error of the contract's order, so the server asks it before
/// it refuses an oversized body too.
std::optional<Response> route_refusal(const RouteMatch& match);

/// Client mistakes become their 4xx, unreachable storage 503, anything else a logged 500.
/// `route` receives the matched pattern ("unmatched" otherwise), the metrics label.
Task<Response> dispatch(const Router& router, Request& request, std::string& route);

}  // namespace concertd::http
