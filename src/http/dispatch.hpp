#pragma once
// One request through the router and its handler, every failure turned into a response:
// the transport-free core of the server, shared with the fuzzers.
#include <string>

#include "http/router.hpp"
#include "http/types.hpp"

namespace concertd::http {

/// Client mistakes become their 4xx, unreachable storage 503, anything else a logged 500.
/// `route` receives the matched pattern ("unmatched" otherwise), the metrics label.
Task<Response> dispatch(const Router& router, Request& request, std::string& route);

}  // namespace concertd::http
