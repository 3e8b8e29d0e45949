#include "adapters/redis/redis_client.hpp"

#include <array>

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "domain/errors.hpp"

namespace concertd::redis {

namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;

namespace {

/// hiredis nests arrays at most 7 deep, so the recursion is bounded.
Reply copy_reply(const redisReply& r) {
  Reply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::String;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::Status;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::Error;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::Integer;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::Array;
      out.elements.reserve(r.elements);
      for (std::size_t i = 0; i < r.elements; ++i) {
        out.elements.push_back(copy_reply(*r.element[i]));
      }
      break;
    default:
      out.type = Reply::Type::Nil;
      break;
  }
  return out;
}

/// RESP bytes of one command, by hiredis's formatter.
std::string format_command(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  argv.reserve(args.size());
  lengths.reserve(args.size());
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  char* formatted = nullptr;
  const int length = redisFormatCommandArgv(&formatted, static_cast<int>(args.size()), argv.data(), lengths.data());
  if (length < 0 || formatted == nullptr) {
    throw Unavailable("redis: cannot format command");
  }
  std::string out(formatted, static_cast<std::size_t>(length));
  redisFreeCommand(formatted);
  return out;
}

/// Completion of the connection's background loops: they handle their own I/O errors, so
/// anything arriving here is a bug worth a log line rather than a silent loss.
auto log_failure(const char* what) {
  return [what](std::exception_ptr failure) {
    if (!failure) {
      return;
    }
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      spdlog::error("redis {}: {}", what, e.what());
    }
  };
}

}  // namespace

struct Connection::Pending {
  explicit Pending(const asio::any_io_executor& executor) : timer(executor) {}
  std::optional<Reply> reply;
  bool failed = false;
  std::string error;
  /// The deadline, and the wake-up: a reply or a failure cancels it.
  asio::steady_timer timer;
};

Connection::Connection(asio::any_io_executor executor, Endpoint endpoint, ClientLimits limits)
    : _executor(std::move(executor)),
      _endpoint(std::move(endpoint)),
      _limits(limits),
      _socket(_executor),
      _reader(nullptr, &redisReaderFree),
      _backoff(limits.backoff_min) {}

Connection::~Connection() = default;

Task<void> Connection::start() {
  auto self = shared_from_this();
  // The first attempt is the caller's: a failure is reported, not retried in the background.
  _reconnecting = true;
  const bool up = co_await connect();
  _reconnecting = false;
  if (!up) {
    throw Unavailable("redis: cannot connect to " + _endpoint.host + ":" + _endpoint.port);
  }
}

void Connection::shutdown() {
  _stopped = true;
  fail("shut down");
}

std::shared_ptr<Connection::Pending> Connection::enqueue(const std::vector<std::string>& args) {
  auto pending = std::make_shared<Pending>(_executor);
  pending->timer.expires_after(_limits.command_timeout);
  _outbox += format_command(args);
  _in_flight.push_back(pending);
  return pending;
}

Task<Reply> Connection::call(std::vector<std::string> args) {
  auto self = shared_from_this();
  if (_stopped || _state == State::Down) {
    schedule_reconnect();
    throw Unavailable("redis: not connected");
  }
  if (_in_flight.size() >= _limits.max_in_flight || _outbox.size() >= _limits.max_outbox_bytes) {
    throw Unavailable("redis: too many commands in flight");
  }
  const std::uint64_t generation = _generation;
  auto pending = enqueue(args);
  kick_writer();
  error_code ec;
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  co_await pending->timer.async_wait(token);
  if (pending->reply) {
    co_return std::move(*pending->reply);
  }
  if (pending->failed) {
    throw Unavailable("redis: " + pending->error);
  }
  /// Past the deadline with no answer: the replies behind it can no longer be matched to
  /// anything trustworthy, so the whole connection goes.
  if (generation == _generation) {
    fail("command timed out");
  }
  throw Unavailable("redis: command timed out");
}

void Connection::kick_writer() {
  if (_writing || _state != State::Up || _outbox.empty()) {
    return;
  }
  _writing = true;
  asio::co_spawn(_executor, write_loop(_generation), log_failure("writer"));
}

Task<void> Connection::write_loop(std::uint64_t generation) {
  auto self = shared_from_this();
  std::string batch;
  // Each round writes everything queued meanwhile in one go; it ends when nothing is left.
  while (generation == _generation && !_outbox.empty()) {
    batch.clear();
    batch.swap(_outbox);
    error_code ec;
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    co_await asio::async_write(_socket, asio::buffer(batch), token);
    if (generation != _generation) {
      co_return;  // the connection was dropped meanwhile; _writing belongs to the next one
    }
    if (ec) {
      fail("write: " + ec.message());
      co_return;
    }
  }
  if (generation == _generation) {
    _writing = false;
  }
}

void Connection::deliver(Reply reply) {
  auto pending = std::move(_in_flight.front());
  _in_flight.pop_front();
  pending->reply = std::move(reply);
  pending->timer.cancel();
}

Task<void> Connection::read_loop(std::uint64_t generation) {
  auto self = shared_from_this();
  std::array<char, 16 * 1024> buffer;
  // Runs for the life of one connection; every exit goes through fail() or a newer generation.
  for (;;) {
    error_code ec;
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    const std::size_t n = co_await _socket.async_read_some(asio::buffer(buffer), token);
    if (generation != _generation) {
      co_return;
    }
    if (ec) {
      fail("read: " + ec.message());
      co_return;
    }
    if (redisReaderFeed(_reader.get(), buffer.data(), n) != REDIS_OK) {
      fail("protocol error");
      co_return;
    }
    // Bounded by the bytes just fed: each reply consumes some of them.
    for (;;) {
      void* raw = nullptr;
      if (redisReaderGetReply(_reader.get(), &raw) != REDIS_OK) {
        fail(std::string("protocol error: ") + _reader->errstr);
        co_return;
      }
      if (raw == nullptr) {
        break;
      }
      Reply reply = copy_reply(*static_cast<redisReply*>(raw));
      freeReplyObject(raw);
      if (_in_flight.empty()) {
        fail("reply without a command");
        co_return;
      }
      deliver(std::move(reply));
    }
  }
}

void Connection::fail(const std::string& reason) {
  const bool was_live = _state != State::Down || !_in_flight.empty();
  ++_generation;
  _state = State::Down;
  _writing = false;
  if (_socket.is_open()) {
    error_code ec;
    _socket.close(ec);
    if (ec) {
      spdlog::debug("redis: close: {}", ec.message());
    }
  }
  auto failed = std::move(_in_flight);
  _in_flight.clear();
  _outbox.clear();
  for (auto& pending : failed) {
    pending->failed = true;
    pending->error = reason;
    pending->timer.cancel();
  }
  if (was_live && !_stopped) {
    spdlog::warn("redis {}:{}: {} ({} commands failed)", _endpoint.host, _endpoint.port, reason, failed.size());
  }
  schedule_reconnect();
}

void Connection::schedule_reconnect() {
  if (_stopped || _reconnecting || _state != State::Down) {
    return;
  }
  _reconnecting = true;
  asio::co_spawn(_executor, reconnect_loop(), log_failure("reconnect"));
}

Task<void> Connection::reconnect_loop() {
  auto self = shared_from_this();
  asio::steady_timer timer(_executor);
  // Retries until Redis is back (or shutdown): waiting is cheap and the backoff caps the rate.
  while (!_stopped && _state == State::Down) {
    timer.expires_after(_backoff);
    error_code ec;
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    co_await timer.async_wait(token);
    if (_stopped) {
      break;
    }
    if (co_await connect()) {
      spdlog::info("redis {}:{}: connected again", _endpoint.host, _endpoint.port);
      _backoff = _limits.backoff_min;
      break;
    }
    _backoff = std::min(_backoff * 2, _limits.backoff_max);
  }
  _reconnecting = false;
}

Task<bool> Connection::connect() {
  auto self = shared_from_this();
  _state = State::Connecting;
  const std::uint64_t generation = ++_generation;
  _reader.reset(redisReaderCreate());
  if (!_reader) {
    fail("out of memory");
    co_return false;
  }
  error_code ec;
  auto token = asio::redirect_error(asio::use_awaitable, ec);
  tcp::resolver resolver(_executor);
  const auto endpoints = co_await resolver.async_resolve(_endpoint.host, _endpoint.port, token);
  if (generation != _generation) {
    co_return false;
  }
  if (ec) {
    fail("resolve: " + ec.message());
    co_return false;
  }
  _socket = tcp::socket(_executor);
  // hiredis has no connect timeout either: a timer closes a socket that takes too long.
  asio::steady_timer guard(_executor);
  guard.expires_after(_limits.connect_timeout);
  guard.async_wait([self, generation](const error_code& wait_error) {
    if (!wait_error && generation == self->_generation && self->_state == State::Connecting) {
      error_code close_error;
      self->_socket.close(close_error);
    }
  });
  co_await asio::async_connect(_socket, endpoints, token);
  guard.cancel();
  if (generation != _generation) {
    co_return false;
  }
  if (ec) {
    fail("connect: " + ec.message());
    co_return false;
  }
  error_code option_error;
  _socket.set_option(tcp::no_delay(true), option_error);
  // SELECT goes first, ahead of whatever was queued while connecting.
  std::shared_ptr<Pending> select;
  if (_endpoint.db != 0) {
    select = std::make_shared<Pending>(_executor);
    select->timer.expires_after(_limits.command_timeout);
    std::vector<std::string> args{"SELECT", std::to_string(_endpoint.db)};
    _outbox.insert(0, format_command(args));
    _in_flight.push_front(select);
  }
  _state = State::Up;
  _backoff = _limits.backoff_min;
  asio::co_spawn(_executor, read_loop(generation), log_failure("reader"));
  kick_writer();
  if (!select) {
    co_return true;
  }
  co_await select->timer.async_wait(token);
  if (select->reply && !select->reply->is_error()) {
    co_return true;
  }
  if (generation == _generation) {
    fail(select->reply ? "SELECT: " + select->reply->str : "SELECT: no answer");
  }
  co_return false;
}

}  // namespace concertd::redis
