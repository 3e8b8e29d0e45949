#pragma once
// One request through the router and its handler, every failure turned into a response, and the
// answer to a request that cannot get that far: the core of the server below its sockets,
// shared with the fuzzers.
#include <optional>
#include <string>

#include "http/beast_message.hpp"
#include "http/router.hpp"
#include "http/types.hpp"

namespace concertd::http {

/// 404 for an unknown path, 405 (with Allow) for a known path asked with another method, nothing
/// when a handler matched: the first error of the contract's order, so the server asks it before
/// it refuses an oversized body too.
std::optional<Response> route_refusal(const RouteMatch& match);

/// The answer to a request the parser has framed (`framing` is not NeedMore) when it cannot be
/// dispatched, sent before the connection is closed; nothing when it can. In the contract's
/// order: 404/405 for an unknown path or method (the headers name both even when the body is
/// refused), 413 for a body over the limit, 400 for anything else the parser refused and for
/// any Transfer-Encoding but one `chunked` (or any at all in HTTP/1.0): such a body's end cannot
/// be trusted, and reading it another way would serve its bytes as the next request (RFC 9112
/// 6.1). The server and the HTTP fuzzer both decide with it.
std::optional<Response> framing_refusal(Framing framing, RequestParser& parser, const Router& router);

/// Client mistakes become their 4xx, unreachable storage 503, anything else a logged 500.
/// `route` receives the matched pattern ("unmatched" otherwise), the metrics label.
Task<Response> dispatch(const Router& router, Request& request, std::string_view& route);

}  // namespace concertd::http
