#pragma once
// One pipelined Redis connection on an Asio socket: hiredis 0.14 formats the commands and
// parses the replies; this class does the I/O. Commands are written coalesced and answered in
// FIFO order; each has a deadline (hiredis has none), and a missed deadline or an I/O error
// fails every command in flight with Unavailable, drops the connection and reconnects with
// backoff. Everything runs on the one executor it is given: no locks.
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "adapters/redis/redis_protocol.hpp"
#include "domain/time.hpp"

struct redisReader;

namespace concertd::redis {

template <class T>
using Task = boost::asio::awaitable<T>;

/// An owned copy of a hiredis reply.
struct Reply {
  enum class Type { Nil, Integer, String, Status, Error, Array };
  Type type = Type::Nil;
  std::int64_t integer = 0;
  std::string str;  // String, Status, Error
  std::vector<Reply> elements;

  bool is_nil() const { return type == Type::Nil; }
  bool is_error() const { return type == Type::Error; }
};

struct ClientLimits {
  Millis command_timeout{2000};
  Millis connect_timeout{2000};
  Millis backoff_min{100};
  Millis backoff_max{2000};
  /// Commands written or waiting to be written, not yet answered.
  std::size_t max_in_flight = 16384;
  /// Bytes formatted but not yet handed to the socket.
  std::size_t max_outbox_bytes = 16 * 1024 * 1024;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(boost::asio::any_io_executor executor, Endpoint endpoint, ClientLimits limits);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// First connection; throws Unavailable when Redis cannot be reached. Later losses reconnect
  /// by themselves.
  Task<void> start();
  /// Sends one command and waits for its reply (an error reply is returned, not thrown).
  /// Throws Unavailable when not connected, overloaded, on I/O failure or past the deadline.
  Task<Reply> call(std::vector<std::string> args);
  bool connected() const { return _state == State::Up; }
  /// Closes for good: nothing reconnects after this.
  void shutdown();

 private:
  enum class State { Down, Connecting, Up };
  struct Pending;

  /// One connection attempt (resolve, connect, SELECT); false when it failed.
  Task<bool> connect();
  Task<void> reconnect_loop();
  Task<void> read_loop(std::uint64_t generation);
  Task<void> write_loop(std::uint64_t generation);
  std::shared_ptr<Pending> enqueue(const std::vector<std::string>& args);
  void kick_writer();
  void fail(const std::string& reason);
  void schedule_reconnect();
  void deliver(Reply reply);

  boost::asio::any_io_executor _executor;
  Endpoint _endpoint;
  ClientLimits _limits;
  boost::asio::ip::tcp::socket _socket;
  std::unique_ptr<redisReader, void (*)(redisReader*)> _reader;
  State _state = State::Down;
  /// Bumped on every loss: loops of an older connection see it and stop.
  std::uint64_t _generation = 0;
  std::string _outbox;                              // formatted, not yet written
  std::deque<std::shared_ptr<Pending>> _in_flight;  // answered in this order
  bool _writing = false;
  bool _reconnecting = false;
  bool _stopped = false;
  Millis _backoff;
};

}  // namespace concertd::redis
