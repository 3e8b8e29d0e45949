#pragma once
// What handlers see of HTTP: plain structs, no Beast types, so that only server.cpp compiles Beast.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>

namespace concertd {
struct VerifiedTokenMemo;
}

namespace concertd::http {

template <class T>
using Task = boost::asio::awaitable<T>;

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // target without the query string, still percent-encoded
  std::string body;
  std::string peer_address;
  std::optional<std::string> authorization;
  std::optional<std::string> idempotency_key;
  std::optional<std::string> admin_key;
  std::optional<std::string> user_auth;
  std::optional<std::string> forwarded_for;
  std::optional<std::string> accept_encoding;  // for the pages' files (assets.hpp)
  std::optional<std::string> if_none_match;
  std::optional<std::string> request_id;    // X-Request-Id as sent; the server checks it
  std::vector<std::string> path_params;     // filled by the router, in pattern order, still encoded
  VerifiedTokenMemo* token_memo = nullptr;  // the connection's, set by the server
};

struct Response {
  int status = 200;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // beyond Content-Type
  std::string_view content_type = "application/json";        // a literal: outlives the response
  bool close = false;                                        // close the connection after this response
};

}  // namespace concertd::http
