#pragma once
// libpq in nonblocking mode, driven by the Asio event loop: one Connection per PGconn, and a
// bounded Pool of them with a bounded FIFO of waiting operations. No call here blocks the thread:
// connecting, sending and reading all wait on the socket through the reactor.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "adapters/postgres/sql.hpp"

struct pg_conn;
struct pg_result;

namespace concertd::postgres {

template <class T>
using Task = boost::asio::awaitable<T>;
using Millis = std::chrono::milliseconds;
/// Query parameters in text form; nullopt is SQL NULL.
using Params = std::vector<std::optional<std::string>>;

/// Why `uri` is not a `postgresql://` (or `postgres://`) URI that libpq can read; empty when it is.
/// Checked when the flags are read, so that a typo stops the start with exit code 2.
std::string uri_problem(const std::string& uri);

/// An error reported by the server on a healthy connection (a constraint, a bug in a statement).
/// A lost connection is never this: it is concertd::Unavailable.
class PgError : public std::runtime_error {
 public:
  PgError(std::string sqlstate, const std::string& message)
      : std::runtime_error(message), _sqlstate(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return _sqlstate; }
  /// Serialization failure or deadlock: the transaction was rolled back whole and may be rerun.
  bool retriable() const { return _sqlstate == "40001" || _sqlstate == "40P01"; }

 private:
  std::string _sqlstate;
};

/// The result of one statement (its last result when the text held several).
class Result {
 public:
  Result() = default;
  explicit Result(pg_result* result);
  Result(Result&&) noexcept;
  Result& operator=(Result&&) noexcept;
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  ~Result();

  int rows() const;
  bool is_null(int row, int column) const;
  std::string text(int row, int column) const;
  std::int64_t integer(int row, int column) const;
  std::optional<std::int64_t> optional_integer(int row, int column) const;

 private:
  pg_result* _result = nullptr;
};

class Connection {
 public:
  explicit Connection(boost::asio::any_io_executor executor);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  /// Replaces whatever connection this held by a new one; throws Unavailable on failure.
  Task<void> connect(std::string uri, Millis timeout);
  /// A named statement, prepared on first use on this connection.
  Task<Result> run(const sql::Statement& statement, const Params& params, Millis timeout);
  /// Text sent as is (simple protocol, may hold several statements): migrations and locks only.
  Task<Result> run_text(const char* text, Millis timeout);

  bool healthy() const;
  /// Drops the connection (the socket belongs to libpq: it is released, never closed, by Asio).
  void close();

  /// Idle-time watch: the server closing an idle connection (a restart, a terminated backend) is
  /// noticed at once instead of failing the next operation that picks it up.
  template <class Handler>
  void watch(Handler handler);
  void unwatch();
  /// After the watch fired: reads what arrived; false when the connection is gone.
  bool absorb_input();
  /// Something to read right now (the reactor is edge-triggered: see ready_now in the .cpp).
  bool input_pending();

 private:
  void arm(Millis timeout);
  void disarm();
  void assign_socket();
  Task<void> wait(bool for_write);
  Task<void> flush();
  Task<Result> collect();
  [[noreturn]] void fail(const std::string& what);

  boost::asio::any_io_executor _executor;
  pg_conn* _conn = nullptr;
  boost::asio::posix::stream_descriptor _socket;
  boost::asio::steady_timer _deadline;
  std::uint64_t _deadline_generation = 0;
  bool _timed_out = false;
  std::unordered_set<std::string_view> _prepared;  // statement names; the literals outlive us
};

template <class Handler>
void Connection::watch(Handler handler) {
  if (input_pending()) {
    boost::asio::post(_executor, [handler = std::move(handler)]() mutable { handler(boost::system::error_code()); });
    return;
  }
  _socket.async_wait(boost::asio::posix::stream_descriptor::wait_read, std::move(handler));
}

class Pool;

/// A connection taken from the pool; given back (or replaced, when broken) when destroyed.
class Lease {
 public:
  Lease(std::shared_ptr<Pool> pool, Connection* connection) : _pool(std::move(pool)), _connection(connection) {}
  Lease(Lease&& other) noexcept : _pool(std::move(other._pool)), _connection(other._connection) {
    other._connection = nullptr;
  }
  Lease& operator=(Lease&&) = delete;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease();

  Connection& operator*() const { return *_connection; }
  Connection* operator->() const { return _connection; }

 private:
  std::shared_ptr<Pool> _pool;
  Connection* _connection;
};

class Pool : public std::enable_shared_from_this<Pool> {
 public:
  Pool(boost::asio::any_io_executor executor, std::string uri, std::size_t size);
  ~Pool();

  /// Connects one connection now (throws Unavailable when the database cannot be reached) and
  /// lends it to the caller; the others connect in the background.
  Task<Lease> start();
  /// A free connection, or a place in the bounded FIFO until one is given back. Throws
  /// Unavailable at once when no connection is alive (the database is down: fail fast), when
  /// the line is full, or when the wait runs out.
  Task<Lease> acquire();
  /// Stops reconnecting and closes every connection; outstanding leases fail their next call.
  void shutdown();

 private:
  friend class Lease;
  struct Waiter;

  void release(Connection* connection);
  void hand_over(Connection* connection);
  void fail_waiters();
  void reconnect_later(Connection* connection);
  void watch_idle(Connection* connection);
  void on_idle_input(Connection* connection, std::uint64_t generation, bool aborted);
  static Task<void> maintain(std::shared_ptr<Pool> self, Connection* connection);
  std::uint64_t& idle_mark(Connection* connection);

  boost::asio::any_io_executor _executor;
  std::string _uri;
  std::vector<std::unique_ptr<Connection>> _slots;
  std::vector<Connection*> _idle;
  std::deque<std::shared_ptr<Waiter>> _waiters;
  std::size_t _live = 0;  // connected, idle or leased
  std::uint64_t _idle_generation = 0;
  std::vector<std::uint64_t> _idle_marks;  // per slot: generation of its idle watch, 0 while not idle
  bool _closed = false;
};

}  // namespace concertd::postgres
