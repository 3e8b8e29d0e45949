#pragma once
// The HTTP/1.1 server: Beast over Asio coroutines, one coroutine per connection, requests of a
// connection answered in order (keep-alive and pipelining), strict framing and timeouts.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "http/access_log.hpp"
#include "http/metrics.hpp"
#include "http/router.hpp"

namespace concertd::http {

struct ServerLimits {
  std::size_t max_body = 65'536;
  std::size_t max_header = 16 * 1024;
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds body_timeout{30};
  std::chrono::seconds idle_timeout{60};
  /// How long a graceful stop (SIGTERM, SIGINT) waits for the requests in flight.
  std::chrono::seconds shutdown_timeout{15};
  /// Open connections at once; more wait in the kernel's backlog until one closes.
  std::int64_t max_connections = 10'000;
};

class Server {
 public:
  Server(boost::asio::io_context& io, const Router& router, Metrics& metrics, ServerLimits limits,
         AccessLog access_log = {});
  /// Binds and starts accepting; throws when the address cannot be bound.
  void listen(const std::string& host, unsigned short port);
  unsigned short port() const { return _port; }
  /// Graceful stop: accepts no more connections and closes the idle ones; every request whose
  /// first bytes have arrived is read, answered (its connection then closed) within `grace`.
  /// False when connections were still open at the deadline (they are closed then).
  boost::asio::awaitable<bool> drain(std::chrono::seconds grace);

  struct State;

 private:
  boost::asio::io_context& _io;
  const Router& _router;
  Metrics& _metrics;
  ServerLimits _limits;
  AccessLog _access_log;
  unsigned short _port = 0;
  std::shared_ptr<State> _state;  // from listen() on
};

}  // namespace concertd::http
