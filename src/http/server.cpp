#include "http/server.hpp"

#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "domain/errors.hpp"
#include "domain/token_signer.hpp"
#include "http/beast_message.hpp"
#include "http/codec.hpp"
#include "http/dispatch.hpp"

namespace concertd::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 4096;

using Clock = std::chrono::steady_clock;

/// A connection and its one deadline. Beast's per-operation timeouts armed a timer around every
/// read and write (clock reads, a timer-queue insert and removal each); here a stage only stores
/// its deadline, and a watchdog closes the socket once the deadline has passed, which fails the
/// pending read or write. The watchdog never sleeps longer than the shortest stage timeout, so
/// that a stage may move the deadline without waking it: every deadline is at least that far
/// ahead of the moment it is set, hence never before the watchdog's next look.
struct Connection {
  explicit Connection(tcp::socket s) : socket(std::move(s)), watchdog(socket.get_executor()) {}
  void expires_after(Clock::duration d) { deadline = Clock::now() + d; }

  tcp::socket socket;
  asio::steady_timer watchdog;
  Clock::time_point deadline = Clock::now();
  bool done = false;  // the session ended; the watchdog stops
};

/// Ends the watchdog with the session, however the session ends (an exception included), so that
/// the socket does not stay open until its deadline after the connection stopped counting.
struct WatchdogStop {
  explicit WatchdogStop(Connection& connection) : c(connection) {}
  WatchdogStop(const WatchdogStop&) = delete;
  WatchdogStop& operator=(const WatchdogStop&) = delete;
  ~WatchdogStop() {
    c.done = true;
    c.watchdog.cancel();
    beast::error_code ignored;
    c.socket.close(ignored);
  }

  Connection& c;
};

Task<void> watch(std::shared_ptr<Connection> c, Clock::duration longest_sleep) {
  while (!c->done) {
    c->watchdog.expires_at(std::min(c->deadline, Clock::now() + longest_sleep));
    co_await c->watchdog.async_wait(kNoThrow);
    if (!c->done && Clock::now() >= c->deadline) {
      beast::error_code ignored;
      c->socket.close(ignored);
      co_return;
    }
  }
}

/// Bytes a refused request may still send after its answer before the connection is reset.
constexpr std::size_t kMaxLingerBytes = 64 * 1024 * 1024;

/// A framing failure: answered, then the connection is closed. The client may still be sending
/// the body the answer refused, and closing with its bytes unread resets the connection: a client
/// that writes its whole body before it reads (Python's http.client with a 1 MB body) got a broken
/// pipe instead of the 413. So, as nginx's lingering close does, what still arrives after the
/// answer is read and dropped until the client closes, kMaxLingerBytes, or `timeout`.
Task<void> reply_and_close(Connection& c, Clock::duration timeout, Response r) {
  std::string out;
  write_response(r, 11, false, out);
  c.expires_after(timeout);  // for the answer and the lingering both: the watchdog ends them
  co_await asio::async_write(c.socket, asio::buffer(out), kNoThrow);
  beast::error_code ignored;
  c.socket.shutdown(tcp::socket::shutdown_send, ignored);
  std::vector<char> sink(16 * 1024);
  for (std::size_t dropped = 0; dropped < kMaxLingerBytes;) {
    auto [read_ec, n] = co_await c.socket.async_read_some(asio::buffer(sink), kNoThrow);
    if (read_ec) {
      break;  // the client closed, or the watchdog did
    }
    dropped += n;
  }
}

/// Reads until `parser` has framed one request (or refused it). Between requests a connection
/// may idle; the header's clock starts with its first byte and runs to its end, the body's from
/// there to its end: set once per stage, never pushed back by a slow trickle of bytes. NeedMore:
/// the peer went away, or the watchdog closed the socket.
Task<Framing> read_request(Connection& c, beast::flat_buffer& buffer, RequestParser& parser,
                           const ServerLimits& limits) {
  if (buffer.size() == 0) {
    c.expires_after(limits.idle_timeout);
    auto [read_ec, n] = co_await c.socket.async_read_some(buffer.prepare(kReadChunk), kNoThrow);
    if (read_ec) {
      co_return Framing::NeedMore;
    }
    buffer.commit(n);
  }
  parser.header_limit(static_cast<std::uint32_t>(limits.max_header));
  parser.body_limit(limits.max_body);
  c.expires_after(limits.header_timeout);
  bool in_body = false;
  Framing framing = frame_buffered(parser, buffer);
  while (framing == Framing::NeedMore) {
    if (!in_body && parser.is_header_done()) {
      in_body = true;
      c.expires_after(limits.body_timeout);
    }
    auto [read_ec, n] = co_await c.socket.async_read_some(buffer.prepare(kReadChunk), kNoThrow);
    if (read_ec) {
      break;
    }
    buffer.commit(n);
    framing = frame_buffered(parser, buffer);
  }
  co_return framing;
}

Task<void> session(tcp::socket socket, const Router& router, Metrics& metrics, ServerLimits limits) {
  beast::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  const std::string peer = ec ? std::string() : remote.address().to_string();
  auto c = std::make_shared<Connection>(std::move(socket));
  const WatchdogStop stop{*c};
  c->expires_after(limits.idle_timeout);
  const Clock::duration shortest =
      std::min({Clock::duration(limits.header_timeout), Clock::duration(limits.body_timeout),
                Clock::duration(limits.idle_timeout)});
  asio::co_spawn(c->socket.get_executor(), watch(c, shortest), asio::detached);
  beast::flat_buffer buffer;  // bounded by the parser's header and body limits
  std::string out;            // the response being written; its capacity is reused
  VerifiedTokenMemo token_memo;
  for (;;) {
    RequestParser parser;
    const Framing framing = co_await read_request(*c, buffer, parser, limits);
    if (framing == Framing::NeedMore) {
      break;  // the peer went away, or the watchdog closed the socket
    }
    std::optional<Response> refusal = framing_refusal(framing, parser, router);
    if (refusal) {
      co_await reply_and_close(*c, shortest, std::move(*refusal));
      break;
    }
    auto beast_request = parser.release();
    const unsigned version = beast_request.version();
    const bool keep_alive = beast_request.keep_alive();
    Request request = to_request(std::move(beast_request), peer);
    request.token_memo = &token_memo;
    // No deadline while the request is handled: a hold or payment the store has committed must
    // still be answered, however long its batch took (the store bounds its own waits).
    c->deadline = Clock::time_point::max();
    const auto started = Clock::now();
    std::string_view route;  // the router's pattern: lives as long as the router
    Response response = co_await dispatch(router, request, route);
    const auto finished = Clock::now();
    metrics.observe(route, request.method, response.status, std::chrono::duration<double>(finished - started).count());
    const bool stays_open = write_response(response, version, keep_alive, out, request.method != "HEAD");
    c->deadline = finished + limits.body_timeout;
    auto [write_ec, written] = co_await asio::async_write(c->socket, asio::buffer(out), kNoThrow);
    if (write_ec || !stays_open) {
      break;
    }
  }
  c->socket.shutdown(tcp::socket::shutdown_send, ec);
}

/// Counts open connections; the accept loop waits on `wake` while the count is at the cap,
/// and every closing connection wakes it.
struct ConnectionGate {
  explicit ConnectionGate(const asio::any_io_executor& executor, std::int64_t max) : max(max), wake(executor) {}
  std::int64_t open = 0;
  std::int64_t max;
  asio::steady_timer wake;
};

Task<void> accept_loop(tcp::acceptor acceptor, const Router& router, Metrics& metrics, ServerLimits limits) {
  auto gate =
      std::make_shared<ConnectionGate>(acceptor.get_executor(), std::max<std::int64_t>(1, limits.max_connections));
  for (;;) {
    while (gate->open >= gate->max) {
      // Not accepting: further clients wait in the kernel's listen backlog.
      gate->wake.expires_at(asio::steady_timer::time_point::max());
      co_await gate->wake.async_wait(kNoThrow);
    }
    auto [ec, socket] = co_await acceptor.async_accept(kNoThrow);
    if (ec) {
      if (ec == asio::error::operation_aborted) {
        co_return;
      }
      // Out of descriptors and the like: pause briefly instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    ++gate->open;
    asio::co_spawn(acceptor.get_executor(), session(std::move(socket), router, metrics, limits),
                   [gate](std::exception_ptr failure) {
                     if (failure) {
                       try {
                         std::rethrow_exception(failure);
                       } catch (const std::exception& e) {
                         spdlog::error("connection ended by an error: {}", e.what());
                       }
                     }
                     --gate->open;
                     gate->wake.cancel();
                   });
  }
}

}  // namespace

Server::Server(asio::io_context& io, const Router& router, Metrics& metrics, ServerLimits limits)
    : _io(io), _router(router), _metrics(metrics), _limits(limits) {}

void Server::listen(const std::string& host, unsigned short port) {
  // An IP address, or "localhost" (the flag allows nothing else): no name lookup at start.
  tcp::endpoint endpoint(asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host), port);
  tcp::acceptor acceptor(_io);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);
  _port = acceptor.local_endpoint().port();
  asio::co_spawn(_io, accept_loop(std::move(acceptor), _router, _metrics, _limits), asio::detached);
}

}  // namespace concertd::http
