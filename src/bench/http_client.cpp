// The only translation unit of the bench that compiles Beast.
#include "bench/http_client.hpp"

#include <boost/asio.hpp>
#include <boost/beast/core/error.hpp>

#include "http/beast_message.hpp"

namespace concertd::bench {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
/// Bytes asked of the socket per read, as the server does: an answer of the fixed-path
/// scenarios fits in one, a 5,000-seat map (about 250 KB) takes some sixty. The buffer keeps
/// its capacity from answer to answer.
constexpr std::size_t kReadChunk = 4096;

bool closed_by_peer(const beast::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe;
}

std::string error_name(const beast::error_code& ec) { return closed_by_peer(ec) ? "closed" : "io"; }

/// The socket and the deadline of the exchange in flight. Beast's tcp_stream armed a timer
/// around every connect, write and read; here an exchange stores one deadline and arms one wait
/// on `watchdog`. Owned jointly by the connection and that wait, so that a wait completing after
/// the connection was destroyed finds its state alive.
struct WatchedSocket {
  explicit WatchedSocket(const asio::any_io_executor& executor) : socket(executor), watchdog(executor) {}

  tcp::socket socket;
  asio::steady_timer watchdog;
  Clock::time_point deadline{};
  bool in_flight = false;  ///< an exchange runs; a watchdog waking without one does nothing
  bool timed_out = false;  ///< the watchdog closed the socket under the exchange in flight
};

/// The watchdog: the completion of the wait on the connection's timer. It closes the socket once
/// the exchange in flight is past its deadline, which fails its pending connect, write or read,
/// and waits again when the deadline moved on (a retry's). A completion handler, not a coroutine
/// as in the server: the client must disarm it at the end of every exchange (a connection
/// between requests holds no pending timer, so that io_context::run() returns when the caller's
/// own work is done), and a coroutine spawned per exchange cost 3,000 instructions more per
/// request (callgrind, open loop: 14.6k against 11.5k for `bench status`).
struct Watchdog {
  std::shared_ptr<WatchedSocket> watched;

  void operator()(const beast::error_code& ec) {
    WatchedSocket& s = *watched;
    if (ec || !s.in_flight) {
      return;  // disarmed: the exchange ended, or the connection was destroyed
    }
    if (Clock::now() < s.deadline) {
      s.watchdog.expires_at(s.deadline);
      s.watchdog.async_wait(Watchdog{std::move(watched)});
      return;
    }
    s.timed_out = true;
    beast::error_code ignored;
    s.socket.close(ignored);
  }
};

/// Arms the watchdog for one exchange and disarms it when the exchange ends, however it ends (an
/// exception included), so that no wait outlives the exchange.
class ExchangeDeadline {
 public:
  ExchangeDeadline(const std::shared_ptr<WatchedSocket>& watched, Clock::time_point deadline) : _s(*watched) {
    _s.deadline = deadline;
    _s.in_flight = true;
    _s.timed_out = false;
    _s.watchdog.expires_at(deadline);
    _s.watchdog.async_wait(Watchdog{watched});
  }
  ExchangeDeadline(const ExchangeDeadline&) = delete;
  ExchangeDeadline& operator=(const ExchangeDeadline&) = delete;
  ~ExchangeDeadline() {
    _s.in_flight = false;
    _s.watchdog.cancel();
  }

 private:
  WatchedSocket& _s;
};

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
      : watched(std::make_shared<WatchedSocket>(executor)),
        endpoint(endpoint),
        host(std::move(host_header)),
        timeout(timeout) {}
  ~Impl() {
    // No exchange runs when a connection is destroyed, so no wait is pending either; this only
    // makes sure of it (a wait that already completed finds in_flight false and does nothing).
    watched->in_flight = false;
    watched->watchdog.cancel();
    close();
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  void close() {
    beast::error_code ignored;
    watched->socket.shutdown(tcp::socket::shutdown_both, ignored);
    watched->socket.close(ignored);
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

  std::shared_ptr<WatchedSocket> watched;
  tcp::endpoint endpoint;
  std::string host;
  std::chrono::milliseconds timeout;
  std::uint64_t served_on_connection = 0;
  std::uint64_t reconnects = 0;
  std::string wire;
  beast::flat_buffer buffer;  ///< bounded by the parser's header limit plus one read chunk
  std::optional<bhttp::response_parser<bhttp::string_body>> parser;
};

HttpConnection::HttpConnection(const asio::any_io_executor& executor, tcp::endpoint endpoint, std::string host_header,
                               std::chrono::milliseconds timeout)
    : _impl(std::make_unique<Impl>(executor, endpoint, std::move(host_header), timeout)) {}

HttpConnection::~HttpConnection() = default;

std::uint64_t HttpConnection::reconnects() const { return _impl->reconnects; }

// Over 70 lines: one exchange with its single deadline and its one retry on a kept-alive
// connection found closed; the attempt's state (buffers, parser, deadline) is local to it. The
// load generator's, to be split with its next change.
// NOLINTNEXTLINE(readability-function-size)
Task<void> HttpConnection::request(Method method, std::string_view target, std::string_view body,
                                   const RequestHeaders& headers, Exchange& out) {
  Impl& c = *_impl;
  WatchedSocket& s = *c.watched;
  out.status = 0;
  out.error.clear();
  out.body.clear();
  c.serialize(method, target, body, headers);
  out.sent = Clock::now();
  // One deadline for the whole exchange, connecting included; a retry gets a fresh one.
  const ExchangeDeadline in_flight(c.watched, out.sent + c.timeout);
  /// Two attempts at most: the second only when a kept-alive connection turned out closed.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (attempt > 0) {
      s.deadline = Clock::now() + c.timeout;  // the pending wait, for the first deadline, waits again
    }
    if (!s.socket.is_open()) {
      c.buffer.clear();
      auto [connect_ec] = co_await s.socket.async_connect(c.endpoint, kNoThrow);
      if (connect_ec) {
        out.error = s.timed_out ? "timeout" : "connect";
        c.close();
        break;
      }
      beast::error_code ignored;
      s.socket.set_option(tcp::no_delay(true), ignored);
      c.served_on_connection = 0;
      if (attempt > 0) {
        ++c.reconnects;
      }
    }
    const bool reused = c.served_on_connection > 0;
    auto [write_ec, written] = co_await asio::async_write(s.socket, asio::buffer(c.wire), kNoThrow);
    if (write_ec) {
      c.close();
      if (reused && !s.timed_out && closed_by_peer(write_ec)) {
        continue;
      }
      out.error = s.timed_out ? "timeout" : error_name(write_ec);
      break;
    }
    auto& parser = c.parser.emplace();
    parser.body_limit(kBodyLimit);
    // Frames what the buffer already holds first and reads only while more bytes are needed.
    http::Framing framing = http::frame_buffered(parser, c.buffer);
    beast::error_code read_ec;
    while (framing == http::Framing::NeedMore) {
      auto [ec, n] = co_await s.socket.async_read_some(c.buffer.prepare(kReadChunk), kNoThrow);
      if (ec) {
        read_ec = ec;
        // An answer without Content-Length or chunking ends where the connection does; one cut
        // short gets partial_message ("io"); EOF before any byte stays EOF ("closed").
        if (ec == asio::error::eof && parser.got_some()) {
          parser.put_eof(read_ec);
          if (!read_ec) {
            framing = http::Framing::Complete;
          }
        }
        break;
      }
      c.buffer.commit(n);
      framing = http::frame_buffered(parser, c.buffer);
    }
    if (framing != http::Framing::Complete) {
      c.close();
      if (s.timed_out) {
        out.error = "timeout";
        break;
      }
      if (framing != http::Framing::NeedMore) {
        out.error = "io";  // over kBodyLimit, or not HTTP
        break;
      }
      if (reused && !parser.got_some() && closed_by_peer(read_ec)) {
        continue;
      }
      out.error = error_name(read_ec);
      break;
    }
    auto& response = parser.get();
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
