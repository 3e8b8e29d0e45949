#include "http/server.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <unordered_set>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "domain/errors.hpp"
#include "domain/random.hpp"
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
  bool idle = false;  // waiting for the first byte of a request: a drain cancels that read
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

}  // namespace

/// What the accept loop, the sessions and a drain share. One thread (the server's io_context)
/// touches it, so it needs no lock.
struct Server::State {
  State(tcp::acceptor a, std::int64_t max_open, AccessLog log)
      : acceptor(std::move(a)),
        max(max_open),
        wake(acceptor.get_executor()),
        drained(acceptor.get_executor()),
        access_log(std::move(log)) {}

  /// "<instance>-<count in hex>": unique across instances (the prefix is random per start) and
  /// short enough for the string's inline buffer.
  std::string next_request_id() {
    std::string id = request_id_prefix;
    char digits[20];
    id.append(digits, std::to_chars(digits, digits + sizeof digits, ++requests, 16).ptr);
    return id;
  }

  tcp::acceptor acceptor;
  std::int64_t open = 0;
  std::int64_t max;
  asio::steady_timer wake;     // the accept loop waits on it while `open` is at `max`
  asio::steady_timer drained;  // a drain waits on it until `open` is 0
  bool draining = false;       // no new connection, no new request on an idle one
  std::unordered_set<Connection*> connections;
  AccessLog access_log;
  std::string request_id_prefix = random_hex(3) + '-';
  std::uint64_t requests = 0;
};

namespace {

using State = Server::State;

/// An X-Request-Id a client or proxy sent is kept when it is safe to echo in a header and a log
/// line: 1 to 128 of letters, digits and . _ - : / + =.
bool acceptable_request_id(const std::optional<std::string>& id) {
  return id && !id->empty() && id->size() <= 128 && std::all_of(id->begin(), id->end(), [](char ch) {
           return std::isalnum(static_cast<unsigned char>(ch)) != 0 ||
                  std::string_view("._-:/+=").find(ch) != std::string_view::npos;
         });
}

/// The user a verified token on this connection named, when this request carried that token.
std::string_view token_user(const Request& request, const VerifiedTokenMemo& memo) {
  const auto& auth = request.authorization;
  if (!auth || memo.token.empty() || auth->size() < memo.token.size() ||
      std::string_view(*auth).substr(auth->size() - memo.token.size()) != memo.token) {
    return {};
  }
  return memo.user_id;
}

/// Keeps a session's connection listed for a drain while the session runs.
struct Listed {
  Listed(State& s, Connection& c) : state(s), connection(c) { state.connections.insert(&connection); }
  Listed(const Listed&) = delete;
  Listed& operator=(const Listed&) = delete;
  ~Listed() { state.connections.erase(&connection); }

  State& state;
  Connection& connection;
};

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
/// the peer went away, the watchdog closed the socket, or a drain ended the idle connection (one
/// whose next request has begun to arrive is read and answered).
Task<Framing> read_request(Connection& c, const State& state, beast::flat_buffer& buffer, RequestParser& parser,
                           const ServerLimits& limits) {
  if (buffer.size() == 0) {
    if (state.draining) {
      co_return Framing::NeedMore;
    }
    c.expires_after(limits.idle_timeout);
    c.idle = true;
    auto [read_ec, n] = co_await c.socket.async_read_some(buffer.prepare(kReadChunk), kNoThrow);
    c.idle = false;
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

Task<void> session(tcp::socket socket, State& state, const Router& router, Metrics& metrics, ServerLimits limits) {
  beast::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  const std::string peer = ec ? std::string() : remote.address().to_string();
  auto c = std::make_shared<Connection>(std::move(socket));
  const WatchdogStop stop{*c};
  const Listed listed{state, *c};
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
    const Framing framing = co_await read_request(*c, state, buffer, parser, limits);
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
    const std::string request_id =
        acceptable_request_id(request.request_id) ? *request.request_id : state.next_request_id();
    std::string_view route;  // the router's pattern: lives as long as the router
    Response response = co_await dispatch(router, request, route);
    const auto finished = Clock::now();
    const double seconds = std::chrono::duration<double>(finished - started).count();
    metrics.observe(route, request.method, response.status, seconds);
    if (state.access_log.enabled()) {
      state.access_log.record({request_id, request.method, request.path, route, response.status, seconds,
                               token_user(request, token_memo), peer});
    }
    // During a drain this answer is the connection's last (Connection: close).
    const bool stays_open =
        write_response(response, version, keep_alive && !state.draining, out, request.method != "HEAD", request_id);
    c->deadline = finished + limits.body_timeout;
    auto [write_ec, written] = co_await asio::async_write(c->socket, asio::buffer(out), kNoThrow);
    if (write_ec || !stays_open) {
      break;
    }
  }
  c->socket.shutdown(tcp::socket::shutdown_send, ec);
}

/// Accepts while fewer than `max` connections are open (further clients wait in the kernel's
/// listen backlog; every closing connection wakes the loop), until a drain closes the acceptor.
Task<void> accept_loop(std::shared_ptr<State> state, const Router& router, Metrics& metrics, ServerLimits limits) {
  const auto executor = state->acceptor.get_executor();
  for (;;) {
    while (state->open >= state->max) {
      state->wake.expires_at(asio::steady_timer::time_point::max());
      co_await state->wake.async_wait(kNoThrow);
    }
    auto [ec, socket] = co_await state->acceptor.async_accept(kNoThrow);
    if (state->draining) {
      co_return;  // the acceptor is closed; a connection accepted just before is closed unanswered
    }
    if (ec) {
      // Out of descriptors and the like: pause briefly instead of spinning.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer pause(executor, std::chrono::milliseconds(50));
      co_await pause.async_wait(kNoThrow);
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    ++state->open;
    asio::co_spawn(executor, session(std::move(socket), *state, router, metrics, limits),
                   [state](std::exception_ptr failure) {
                     if (failure) {
                       try {
                         std::rethrow_exception(failure);
                       } catch (const std::exception& e) {
                         spdlog::error("connection ended by an error: {}", e.what());
                       }
                     }
                     --state->open;
                     state->wake.cancel();
                     state->drained.cancel();
                   });
  }
}

}  // namespace

Server::Server(asio::io_context& io, const Router& router, Metrics& metrics, ServerLimits limits, AccessLog access_log)
    : _io(io), _router(router), _metrics(metrics), _limits(limits), _access_log(std::move(access_log)) {}

void Server::listen(const std::string& host, unsigned short port) {
  // An IP address, or "localhost" (the flag allows nothing else): no name lookup at start.
  tcp::endpoint endpoint(asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host), port);
  tcp::acceptor acceptor(_io);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(asio::socket_base::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen(asio::socket_base::max_listen_connections);
  _port = acceptor.local_endpoint().port();
  _state =
      std::make_shared<State>(std::move(acceptor), std::max<std::int64_t>(1, _limits.max_connections), _access_log);
  asio::co_spawn(_io, accept_loop(_state, _router, _metrics, _limits), asio::detached);
}

Task<bool> Server::drain(std::chrono::seconds grace) {
  const std::shared_ptr<State> state = _state;  // outlives the sessions' last callbacks
  if (!state) {
    co_return true;  // never listened
  }
  state->draining = true;
  beast::error_code ignored;
  state->acceptor.close(ignored);
  // An idle connection's pending read is cancelled, not its socket closed: a read that has
  // completed but whose session has not resumed yet still reads `idle`, and closing would drop the
  // answer to a request the session then handles. Cancelling leaves a completed read alone.
  for (Connection* c : state->connections) {
    if (c->idle) {
      c->socket.cancel(ignored);
    }
  }
  const auto deadline = Clock::now() + grace;
  while (state->open > 0 && Clock::now() < deadline) {
    state->drained.expires_at(deadline);
    co_await state->drained.async_wait(kNoThrow);  // every ending session wakes it
  }
  if (state->open == 0) {
    co_return true;
  }
  spdlog::warn("drain: {} connections still open after {} s; closing them", state->open, grace.count());
  for (Connection* c : state->connections) {
    c->socket.close(ignored);
  }
  co_return false;
}

}  // namespace concertd::http
