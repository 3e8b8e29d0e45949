#pragma once
// Between Beast messages and the plain Request/Response the handlers see, and the framing of a
// message from a read buffer. Header-only and included only by the server and its framing
// decision (dispatch.hpp), the HTTP fuzzer and the bench's HTTP client (which frames responses
// with frame_buffered), so that Beast stays out of handler code.
#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/types.hpp"

namespace concertd::http {

using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;
using BeastResponse = boost::beast::http::response<boost::beast::http::string_body>;
using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

/// What the bytes read so far make of one message (a request, or the client's response).
enum class Framing {
  NeedMore,   // read more, then frame again
  Complete,   // the message is in the parser; what follows it stays in the buffer
  TooLarge,   // a body over the parser's limit (from Content-Length, or as chunks arrive): the
              // server answers 413, the bench's client fails the exchange with "io"
  Malformed,  // anything else the parser refused, a header over its limit included: 400, or "io"
};

/// Feeds `parser` what `buffer` holds, consuming it, until the message is complete or more
/// bytes are needed. The server and the HTTP fuzzer frame requests with this, the bench's client
/// responses, and each reads only on NeedMore: a message that arrived whole (nearly all of them)
/// costs no asynchronous operation beyond the read that brought it. A response whose body ends
/// where the connection does (parser.need_eof()) stays NeedMore until the caller, at EOF, calls
/// parser.put_eof().
template <bool isRequest>
Framing frame_buffered(boost::beast::http::parser<isRequest, boost::beast::http::string_body>& parser,
                       boost::beast::flat_buffer& buffer) {
  while (buffer.size() > 0 && !parser.is_done()) {
    boost::beast::error_code ec;
    const std::size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == boost::beast::http::error::need_more) {
      return Framing::NeedMore;
    }
    if (ec == boost::beast::http::error::body_limit) {
      return Framing::TooLarge;
    }
    if (ec) {
      return Framing::Malformed;
    }
    if (used == 0) {
      return Framing::NeedMore;  // nothing parsed and nothing refused: wait for bytes
    }
  }
  return parser.is_done() ? Framing::Complete : Framing::NeedMore;
}

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
  r.accept_encoding = header_of(req, "Accept-Encoding");
  r.if_none_match = header_of(req, "If-None-Match");
  r.request_id = header_of(req, "X-Request-Id");
  r.body = std::move(req.body());
  return r;
}

/// Writes the whole response (status line, headers, body) into `out`, replacing what it held,
/// so that the server sends it with one buffer and reuses the string's capacity for the next
/// response; Beast's serializer walks a chain of buffer views and costed a third of a status
/// request. Returns whether the connection stays open after it. `with_body` false (the answer to
/// a HEAD request) keeps the headers, Content-Length included, and leaves the body out: a body
/// the client does not read would be taken for the next response on the connection.
inline bool write_response(const Response& r, unsigned version, bool keep_alive, std::string& out,
                           bool with_body = true, std::string_view request_id = {}) {
  const bool stays_open = keep_alive && !r.close;
  const auto status = static_cast<boost::beast::http::status>(r.status);
  char number[24];
  out.clear();
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out.append(number, std::to_chars(number, number + sizeof number, r.status).ptr);
  out += ' ';
  const auto reason = boost::beast::http::obsolete_reason(status);
  out.append(reason.data(), reason.size());
  out += "\r\nContent-Type: ";
  out += r.content_type;
  if (r.status != 304) {  // a 304's length would have to be the 200's: it is left out
    out += "\r\nContent-Length: ";
    out.append(number, std::to_chars(number, number + sizeof number, r.body.size()).ptr);
  }
  for (const auto& [name, value] : r.headers) {
    out += "\r\n";
    out += name;
    out += ": ";
    out += value;
  }
  if (!request_id.empty()) {
    out += "\r\nX-Request-Id: ";
    out += request_id;
  }
  if (version == 10 && stays_open) {
    out += "\r\nConnection: keep-alive";
  } else if (version != 10 && !stays_open) {
    out += "\r\nConnection: close";
  }
  out += "\r\n\r\n";
  if (with_body) {
    out += r.body;
  }
  return stays_open;
}

}  // namespace concertd::http
