#pragma once
// Between Beast messages and the plain Request/Response the handlers see. Header-only and
// included only by the server and the HTTP fuzzer, so that Beast stays out of handler code and
// no translation unit is added for it.
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/types.hpp"

namespace concertd::http {

using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;
using BeastResponse = boost::beast::http::response<boost::beast::http::string_body>;

inline std::optional<std::string> header_of(const BeastRequest& req, std::string_view name) {
  auto it = req.find(name);
  if (it == req.end()) {
    return std::nullopt;
  }
  return std::string(it->value());
}

/// The request as handlers see it: path without the query string (still percent-encoded), the
/// headers the contract uses, the body.
inline Request to_request(BeastRequest&& req, const std::string& peer) {
  Request r;
  r.method = std::string(req.method_string());
  const std::string_view target = req.target();
  r.path = std::string(target.substr(0, target.find('?')));
  r.peer_address = peer;
  r.authorization = header_of(req, "Authorization");
  r.idempotency_key = header_of(req, "Idempotency-Key");
  r.admin_key = header_of(req, "X-Admin-Key");
  r.user_auth = header_of(req, "X-User-Auth");
  r.forwarded_for = header_of(req, "X-Forwarded-For");
  r.body = std::move(req.body());
  return r;
}

inline BeastResponse to_beast(Response&& r, unsigned version, bool keep_alive) {
  BeastResponse res{static_cast<boost::beast::http::status>(r.status), version};
  res.set(boost::beast::http::field::content_type, r.content_type);
  for (auto& [name, value] : r.headers) {
    res.set(name, value);
  }
  res.body() = std::move(r.body);
  res.keep_alive(keep_alive && !r.close);
  res.prepare_payload();
  return res;
}

}  // namespace concertd::http
