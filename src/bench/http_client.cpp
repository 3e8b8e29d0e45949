// The only translation unit of the bench that compiles Beast.
#include "bench/http_client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace concertd::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

std::string error_name(const beast::error_code& ec) {
  if (ec == beast::error::timeout) {
    return "timeout";
  }
  if (ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
      ec == asio::error::broken_pipe) {
    return "closed";
  }
  return "io";
}

bool closed_by_peer(const beast::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe;
}

}  // namespace

std::optional<BaseUrl> parse_base_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (url.substr(0, scheme.size()) != scheme) {
    return std::nullopt;
  }
  std::string_view rest = url.substr(scheme.size());
  if (!rest.empty() && rest.back() == '/') {
    rest.remove_suffix(1);
  }
  if (rest.empty() || rest.find('/') != std::string_view::npos || rest.find('@') != std::string_view::npos) {
    return std::nullopt;
  }
  const auto colon = rest.rfind(':');
  if (colon == std::string_view::npos) {
    return BaseUrl{std::string(rest), "80"};
  }
  std::string_view port = rest.substr(colon + 1);
  if (colon == 0 || port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
      std::stoi(std::string(port)) > 65535 || std::stoi(std::string(port)) == 0) {
    return std::nullopt;
  }
  return BaseUrl{std::string(rest.substr(0, colon)), std::string(port)};
}

tcp::endpoint resolve(const BaseUrl& url) {
  asio::io_context io;
  tcp::resolver resolver(io);
  auto results = resolver.resolve(url.host, url.port);
  if (results.empty()) {
    throw std::runtime_error("cannot resolve " + url.host);
  }
  return results.begin()->endpoint();
}

struct HttpConnection::Impl {
  Impl(const asio::any_io_executor& executor, tcp::endpoint endpoint, std::string host_header,
       std::chrono::milliseconds timeout)
      : stream(executor), endpoint(endpoint), host(std::move(host_header)), timeout(timeout) {}

  void close() {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
    open = false;
  }

  /// Writes the request head and body into `wire`, reused from request to request so that the
  /// hot path allocates nothing once it has grown.
  void serialize(Method method, std::string_view target, std::string_view body, const RequestHeaders& headers) {
    wire.clear();
    wire += method == Method::get ? "GET " : "POST ";
    wire += target;
    wire += " HTTP/1.1\r\nHost: ";
    wire += host;
    wire += "\r\n";
    if (!headers.bearer.empty()) {
      wire += "Authorization: Bearer ";
      wire += headers.bearer;
      wire += "\r\n";
    }
    if (!headers.idempotency_key.empty()) {
      wire += "Idempotency-Key: ";
      wire += headers.idempotency_key;
      wire += "\r\n";
    }
    if (!headers.admin_key.empty()) {
      wire += "X-Admin-Key: ";
      wire += headers.admin_key;
      wire += "\r\n";
    }
    if (method == Method::post) {
      wire += "Content-Type: application/json\r\nContent-Length: ";
      wire += std::to_string(body.size());
      wire += "\r\n";
    }
    wire += "\r\n";
    wire += body;
  }

  beast::tcp_stream stream;
  tcp::endpoint endpoint;
  std::string host;
  std::chrono::milliseconds timeout;
  bool open = false;
  std::uint64_t served_on_connection = 0;
  std::uint64_t reconnects = 0;
  std::string wire;
  beast::flat_buffer buffer;  ///< bounded by the parser's header and body limits
  std::optional<bhttp::response_parser<bhttp::string_body>> parser;
};

HttpConnection::HttpConnection(const asio::any_io_executor& executor, tcp::endpoint endpoint, std::string host_header,
                               std::chrono::milliseconds timeout)
    : _impl(std::make_unique<Impl>(executor, endpoint, std::move(host_header), timeout)) {}

HttpConnection::~HttpConnection() = default;

std::uint64_t HttpConnection::reconnects() const { return _impl->reconnects; }

Task<void> HttpConnection::request(Method method, std::string_view target, std::string_view body,
                                   const RequestHeaders& headers, Exchange& out) {
  Impl& c = *_impl;
  out.status = 0;
  out.error.clear();
  out.body.clear();
  c.serialize(method, target, body, headers);
  out.sent = Clock::now();
  /// Two attempts at most: the second only when a kept-alive connection turned out closed.
  for (int attempt = 0; attempt < 2; ++attempt) {
    // One deadline for the whole exchange, connecting included.
    c.stream.expires_after(c.timeout);
    if (!c.open) {
      c.buffer.clear();
      auto [connect_ec] = co_await c.stream.async_connect(c.endpoint, kNoThrow);
      if (connect_ec) {
        out.error = connect_ec == beast::error::timeout ? "timeout" : "connect";
        c.close();
        break;
      }
      beast::error_code ignored;
      c.stream.socket().set_option(tcp::no_delay(true), ignored);
      c.open = true;
      c.served_on_connection = 0;
      if (attempt > 0) {
        ++c.reconnects;
      }
    }
    const bool reused = c.served_on_connection > 0;
    auto [write_ec, written] = co_await asio::async_write(c.stream, asio::buffer(c.wire), kNoThrow);
    if (write_ec) {
      c.close();
      if (reused && closed_by_peer(write_ec)) {
        continue;
      }
      out.error = error_name(write_ec);
      break;
    }
    c.parser.emplace();
    c.parser->body_limit(kBodyLimit);
    auto [read_ec, read_n] = co_await bhttp::async_read(c.stream, c.buffer, *c.parser, kNoThrow);
    if (read_ec) {
      const bool nothing_read = !c.parser->got_some();
      c.close();
      if (reused && nothing_read && closed_by_peer(read_ec)) {
        continue;
      }
      out.error = error_name(read_ec);
      break;
    }
    auto& response = c.parser->get();
    out.status = static_cast<int>(response.result_int());
    out.body = std::move(response.body());
    ++c.served_on_connection;
    if (!response.keep_alive()) {
      c.close();
    }
    break;
  }
  out.received = Clock::now();
}

}  // namespace concertd::bench
