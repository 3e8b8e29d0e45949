#include "adapters/postgres/pg_pool.hpp"

#include <poll.h>

#include <algorithm>
#include <charconv>

#include <libpq-fe.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "domain/assert.hpp"
#include "domain/errors.hpp"

namespace concertd::postgres {

namespace asio = boost::asio;

namespace {

/// How long an operation may wait in line for a connection before it is answered 503.
constexpr Millis kAcquireTimeout{5'000};
/// Operations waiting for a connection, per instance; beyond this the request is answered 503.
constexpr std::size_t kMaxWaiters = 4096;
constexpr Millis kConnectTimeout{5'000};
constexpr Millis kFirstBackoff{100};
constexpr Millis kMaxBackoff{2'000};
/// Steps of the libpq connection state machine; a handful in practice.
constexpr int kMaxConnectSteps = 64;
/// PQflush rounds for one query; our largest statements are a few kilobytes.
constexpr int kMaxFlushRounds = 100'000;

std::string connection_message(pg_conn* conn) {
  std::string message = conn ? PQerrorMessage(conn) : "no connection";
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
    message.pop_back();
  }
  return message.empty() ? std::string("connection lost") : message;
}

/// True when `fd` is ready now. The reactor registers descriptors edge-triggered and a wait does
/// not check the current state, so readiness that arrived before the wait would be missed.
bool ready_now(int fd, bool for_write) {
  pollfd p{fd, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
  return ::poll(&p, 1, 0) > 0;
}

}  // namespace

// ---- the URI ------------------------------------------------------------------------------------

std::string uri_problem(const std::string& uri) {
  if (!uri.starts_with("postgresql://") && !uri.starts_with("postgres://")) {
    return "not a postgresql:// URI";
  }
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(uri.c_str(), &error);
  if (options == nullptr) {
    std::string why = error != nullptr ? error : "libpq cannot read it";
    PQfreemem(error);
    while (!why.empty() && why.back() == '\n') {
      why.pop_back();
    }
    return why;
  }
  // libpq reads the port only when it connects; a start should not get that far with a typo.
  std::string why;
  for (const PQconninfoOption* o = options; o->keyword != nullptr && why.empty(); ++o) {
    if (std::string_view(o->keyword) != "port" || o->val == nullptr) {
      continue;
    }
    std::string_view ports(o->val);  // one per host, comma-separated; an empty one is the default
    while (why.empty()) {
      const std::string_view one = ports.substr(0, ports.find(','));
      int port = 0;
      const auto [end, ec] = std::from_chars(one.data(), one.data() + one.size(), port);
      if (!one.empty() && (ec != std::errc{} || end != one.data() + one.size() || port < 1 || port > 65535)) {
        why = "bad port \"" + std::string(one) + "\"";
      }
      if (one.size() == ports.size()) {
        break;
      }
      ports.remove_prefix(one.size() + 1);
    }
  }
  PQconninfoFree(options);
  return why;
}

// ---- Result -------------------------------------------------------------------------------------

Result::Result(pg_result* result) : _result(result) {}
Result::Result(Result&& other) noexcept : _result(other._result) { other._result = nullptr; }
Result& Result::operator=(Result&& other) noexcept {
  if (this != &other) {
    if (_result) {
      PQclear(_result);
    }
    _result = other._result;
    other._result = nullptr;
  }
  return *this;
}
Result::~Result() {
  if (_result) {
    PQclear(_result);
  }
}

int Result::rows() const { return _result ? PQntuples(_result) : 0; }

bool Result::is_null(int row, int column) const { return PQgetisnull(_result, row, column) == 1; }

std::string Result::text(int row, int column) const {
  return std::string(PQgetvalue(_result, row, column), static_cast<std::size_t>(PQgetlength(_result, row, column)));
}

std::int64_t Result::integer(int row, int column) const {
  const char* value = PQgetvalue(_result, row, column);
  const char* end = value + PQgetlength(_result, row, column);
  std::int64_t out = 0;
  const auto [ptr, ec] = std::from_chars(value, end, out);
  if (ec != std::errc() || ptr != end) {
    throw std::runtime_error("postgres: not an integer in column " + std::to_string(column));
  }
  return out;
}

std::optional<std::int64_t> Result::optional_integer(int row, int column) const {
  if (is_null(row, column)) {
    return std::nullopt;
  }
  return integer(row, column);
}

// ---- Connection ---------------------------------------------------------------------------------

Connection::Connection(asio::any_io_executor executor) : _executor(executor), _socket(executor), _deadline(executor) {}

Connection::~Connection() { close(); }

bool Connection::healthy() const { return _conn != nullptr && PQstatus(_conn) == CONNECTION_OK; }

void Connection::close() {
  disarm();
  if (_socket.is_open()) {
    boost::system::error_code ignored;
    _socket.cancel(ignored);
    _socket.release();  // libpq owns the descriptor and closes it in PQfinish
  }
  if (_conn) {
    PQfinish(_conn);
    _conn = nullptr;
  }
  _prepared.clear();
}

void Connection::fail(const std::string& what) {
  std::string message = what + ": " + connection_message(_conn);
  close();
  throw Unavailable("postgres: " + message);
}

void Connection::arm(Millis timeout) {
  _timed_out = false;
  const std::uint64_t generation = ++_deadline_generation;
  _deadline.expires_after(timeout);
  _deadline.async_wait([this, generation](const boost::system::error_code& ec) {
    if (ec || generation != _deadline_generation) {
      return;
    }
    _timed_out = true;
    boost::system::error_code ignored;
    _socket.cancel(ignored);
  });
}

void Connection::disarm() {
  ++_deadline_generation;
  _deadline.cancel();
}

void Connection::assign_socket() {
  if (_socket.is_open()) {
    _socket.release();
  }
  const int fd = PQsocket(_conn);
  if (fd < 0) {
    fail("no socket");
  }
  _socket.assign(fd);
}

Task<void> Connection::wait(bool for_write) {
  if (!_timed_out && _socket.is_open() && ready_now(_socket.native_handle(), for_write)) {
    // Ready already: still give the loop a turn, so that a deadline can fire on a chatty socket.
    co_await asio::post(_executor, asio::use_awaitable);
  } else if (!_timed_out) {
    boost::system::error_code ec;
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    co_await _socket.async_wait(
        for_write ? asio::posix::stream_descriptor::wait_write : asio::posix::stream_descriptor::wait_read, token);
    if (ec && !_timed_out) {
      fail("wait on socket: " + ec.message());
    }
  }
  if (_timed_out) {
    close();
    throw Unavailable("postgres: timed out (connection closed)");
  }
  if (!_conn) {
    throw Unavailable("postgres: connection closed");
  }
}

Task<void> Connection::connect(std::string uri, Millis timeout) {
  close();
  _conn = PQconnectStart(uri.c_str());
  if (!_conn || PQstatus(_conn) == CONNECTION_BAD) {
    fail("connect");
  }
  arm(timeout);
  PostgresPollingStatusType status = PGRES_POLLING_WRITING;
  for (int step = 0; step < kMaxConnectSteps && status != PGRES_POLLING_OK; ++step) {
    if (status == PGRES_POLLING_FAILED) {
      fail("connect");
    }
    // libpq may open a new socket between steps (another address, an SSL retry).
    assign_socket();
    co_await wait(status == PGRES_POLLING_WRITING);
    status = PQconnectPoll(_conn);
  }
  if (status != PGRES_POLLING_OK) {
    fail("connect");
  }
  assign_socket();
  disarm();
  if (PQsetnonblocking(_conn, 1) != 0) {
    fail("set nonblocking");
  }
}

Task<void> Connection::flush() {
  for (int round = 0; round < kMaxFlushRounds; ++round) {
    const int r = PQflush(_conn);
    if (r == 0) {
      co_return;
    }
    if (r < 0) {
      fail("send");
    }
    co_await wait(true);
  }
  fail("send: too many rounds");
}

Task<Result> Connection::collect() {
  Result last;
  std::optional<PgError> error;
  for (;;) {
    while (PQisBusy(_conn)) {
      co_await wait(false);
      if (!PQconsumeInput(_conn)) {
        fail("receive");
      }
    }
    pg_result* raw = PQgetResult(_conn);
    if (!raw) {
      break;
    }
    Result current(raw);
    const ExecStatusType status = PQresultStatus(raw);
    if (status == PGRES_FATAL_ERROR || status == PGRES_BAD_RESPONSE || status == PGRES_NONFATAL_ERROR) {
      if (!error) {
        const char* state = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
        std::string message = PQresultErrorMessage(raw);
        while (!message.empty() && message.back() == '\n') {
          message.pop_back();
        }
        error.emplace(state ? state : "", "postgres: " + message);
      }
    } else {
      last = std::move(current);
    }
  }
  if (PQstatus(_conn) != CONNECTION_OK) {
    fail("connection lost");
  }
  if (error) {
    // A server error on a live connection: the statement (and its implicit transaction) was
    // rolled back whole. Class 57 (operator intervention) and 08 (connection) mean "try later".
    const std::string& state = error->sqlstate();
    if (state.rfind("57", 0) == 0 || state.rfind("08", 0) == 0 || state.rfind("53", 0) == 0) {
      throw Unavailable(error->what());
    }
    throw PgError(*error);
  }
  co_return last;
}

Task<Result> Connection::run(const sql::Statement& statement, const Params& params, Millis timeout) {
  if (!healthy()) {
    throw Unavailable("postgres: connection is not open");
  }
  arm(timeout);
  if (!_prepared.contains(statement.name)) {
    if (!PQsendPrepare(_conn, statement.name, statement.text, statement.params, nullptr)) {
      fail("prepare");
    }
    co_await flush();
    co_await collect();
    _prepared.insert(statement.name);
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) {
    values.push_back(p ? p->c_str() : nullptr);
  }
  if (!PQsendQueryPrepared(_conn, statement.name, static_cast<int>(values.size()), values.data(), nullptr, nullptr,
                           0)) {
    fail("send");
  }
  co_await flush();
  Result result = co_await collect();
  disarm();
  co_return result;
}

Task<Result> Connection::run_text(const char* text, Millis timeout) {
  if (!healthy()) {
    throw Unavailable("postgres: connection is not open");
  }
  arm(timeout);
  if (!PQsendQuery(_conn, text)) {
    fail("send");
  }
  co_await flush();
  Result result = co_await collect();
  disarm();
  co_return result;
}

bool Connection::input_pending() { return _socket.is_open() && ready_now(_socket.native_handle(), false); }

void Connection::unwatch() {
  boost::system::error_code ignored;
  _socket.cancel(ignored);
}

bool Connection::absorb_input() {
  if (!_conn || !PQconsumeInput(_conn) || PQstatus(_conn) != CONNECTION_OK) {
    return false;
  }
  // An idle connection may only receive notices and parameter changes; drop any stray result.
  for (int i = 0; i < 16 && !PQisBusy(_conn); ++i) {
    pg_result* stray = PQgetResult(_conn);
    if (!stray) {
      break;
    }
    PQclear(stray);
  }
  return true;
}

// ---- Lease and Pool -----------------------------------------------------------------------------

Lease::~Lease() {
  if (_connection) {
    _pool->release(_connection);
  }
}

struct Pool::Waiter {
  explicit Waiter(asio::any_io_executor executor) : timer(executor) {}
  asio::steady_timer timer;
  Connection* granted = nullptr;
  bool failed = false;
};

Pool::Pool(asio::any_io_executor executor, std::string uri, std::size_t size)
    : _executor(executor), _uri(std::move(uri)), _idle_marks(std::max<std::size_t>(size, 1), 0) {
  for (std::size_t i = 0; i < _idle_marks.size(); ++i) {
    _slots.push_back(std::make_unique<Connection>(executor));
  }
  _idle.reserve(_slots.size());
}

Pool::~Pool() = default;

std::uint64_t& Pool::idle_mark(Connection* connection) {
  for (std::size_t i = 0; i < _slots.size(); ++i) {
    if (_slots[i].get() == connection) {
      return _idle_marks[i];
    }
  }
  CONCERTD_UNREACHABLE("a connection the pool hands out is one of its slots");
}

Task<Lease> Pool::start() {
  Connection* first = _slots.front().get();
  co_await first->connect(_uri, kConnectTimeout);
  co_await first->run_text(sql::session_setup().c_str(), kConnectTimeout);
  ++_live;
  for (std::size_t i = 1; i < _slots.size(); ++i) {
    reconnect_later(_slots[i].get());
  }
  co_return Lease(shared_from_this(), first);
}

Task<Lease> Pool::acquire() {
  if (_closed) {
    throw Unavailable("postgres: store is shut down");
  }
  if (!_idle.empty()) {
    Connection* connection = _idle.back();
    _idle.pop_back();
    idle_mark(connection) = 0;
    connection->unwatch();
    co_return Lease(shared_from_this(), connection);
  }
  if (_live == 0) {
    throw Unavailable("postgres: no connection to the database");
  }
  if (_waiters.size() >= kMaxWaiters) {
    throw Unavailable("postgres: too many operations waiting for a connection");
  }
  auto waiter = std::make_shared<Waiter>(_executor);
  waiter->timer.expires_after(kAcquireTimeout);
  _waiters.push_back(waiter);
  boost::system::error_code ec;
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  co_await waiter->timer.async_wait(token);
  if (waiter->granted) {
    co_return Lease(shared_from_this(), waiter->granted);
  }
  const auto it = std::find(_waiters.begin(), _waiters.end(), waiter);
  if (it != _waiters.end()) {
    _waiters.erase(it);
  }
  throw Unavailable(waiter->failed ? "postgres: connections lost while waiting"
                                   : "postgres: timed out waiting for a connection");
}

void Pool::release(Connection* connection) {
  if (_closed) {
    connection->close();
    return;
  }
  if (!connection->healthy()) {
    connection->close();
    --_live;
    if (_live == 0) {
      fail_waiters();
    }
    reconnect_later(connection);
    return;
  }
  hand_over(connection);
}

void Pool::hand_over(Connection* connection) {
  if (!_waiters.empty()) {
    auto waiter = std::move(_waiters.front());
    _waiters.pop_front();
    waiter->granted = connection;
    waiter->timer.cancel();
    return;
  }
  _idle.push_back(connection);
  watch_idle(connection);
}

void Pool::fail_waiters() {
  for (auto& waiter : _waiters) {
    waiter->failed = true;
    waiter->timer.cancel();
  }
  _waiters.clear();
}

void Pool::watch_idle(Connection* connection) {
  const std::uint64_t generation = ++_idle_generation;
  idle_mark(connection) = generation;
  std::weak_ptr<Pool> weak = weak_from_this();
  connection->watch([weak, connection, generation](const boost::system::error_code& ec) {
    if (auto self = weak.lock()) {
      self->on_idle_input(connection, generation, ec == asio::error::operation_aborted);
    }
  });
}

void Pool::on_idle_input(Connection* connection, std::uint64_t generation, bool aborted) {
  if (aborted || _closed || idle_mark(connection) != generation) {
    return;  // leased meanwhile: the watch is over
  }
  if (connection->absorb_input()) {
    watch_idle(connection);
    return;
  }
  spdlog::warn("postgres: idle connection lost; reconnecting");
  _idle.erase(std::remove(_idle.begin(), _idle.end(), connection), _idle.end());
  idle_mark(connection) = 0;
  release(connection);
}

void Pool::reconnect_later(Connection* connection) {
  asio::co_spawn(_executor, maintain(shared_from_this(), connection), asio::detached);
}

/// Reconnects one slot with backoff until it succeeds or the store shuts down.
Task<void> Pool::maintain(std::shared_ptr<Pool> self, Connection* connection) {
  asio::steady_timer timer(self->_executor);
  Millis backoff = kFirstBackoff;
  // Runs as long as the database stays away; each round waits, so it never spins.
  for (std::uint64_t attempt = 1; !self->_closed; ++attempt) {
    std::string failure;
    try {
      co_await connection->connect(self->_uri, kConnectTimeout);
      co_await connection->run_text(sql::session_setup().c_str(), kConnectTimeout);
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (self->_closed) {
      connection->close();
      co_return;
    }
    if (failure.empty()) {
      if (attempt > 1) {
        spdlog::info("postgres: reconnected after {} attempts", attempt);
      }
      ++self->_live;
      self->hand_over(connection);
      co_return;
    }
    if (attempt == 1 || attempt % 50 == 0) {
      spdlog::warn("postgres: reconnect attempt {} failed: {}", attempt, failure);
    }
    timer.expires_after(backoff);
    boost::system::error_code ec;
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    co_await timer.async_wait(token);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

void Pool::shutdown() {
  _closed = true;
  fail_waiters();
  _idle.clear();
  for (auto& slot : _slots) {
    slot->close();
  }
}

}  // namespace concertd::postgres
