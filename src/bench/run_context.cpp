#include "bench/run_context.hpp"

#include <unistd.h>

#include <cstdio>
#include <random>

#include <boost/asio.hpp>

#include "bench/api_calls.hpp"

namespace concertd::bench {

std::string random_run_id() {
  std::random_device rd;
  const char* digits = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 8; ++i) {
    id += digits[rd() % 16];
  }
  return id;
}

Task<void> Shard::call(HttpConnection& conn, StepStats* step, Method method, std::string_view target,
                       std::string_view body, const RequestHeaders& headers, int ok_status, Clock::time_point started,
                       Exchange& ex) {
  co_await conn.request(method, target, body, headers, ex);
  const bool ok = ex.status == ok_status;
  if (ok) {
    shared.live_ok.fetch_add(1, std::memory_order_relaxed);
  } else {
    shared.live_errors.fetch_add(1, std::memory_order_relaxed);
  }
  if (step == nullptr) {
    co_return;
  }
  const std::string code = ok ? std::string() : code_of(ex);
  const Clock::time_point from = std::min(started, ex.sent);
  rec.record(*step, ok, ex.status, code, from, ex.received);
}

Task<void> Shard::sleep_until(Clock::time_point t) {
  asio::steady_timer timer(io, t);
  co_await timer.async_wait(kNoThrow);
}

void run_blocking_void(Shard& shard, Task<void> task) {
  std::exception_ptr failure;
  asio::co_spawn(shard.io, std::move(task), [&](std::exception_ptr e) { failure = e; });
  shard.io.restart();
  shard.io.run();
  if (failure) {
    std::rethrow_exception(failure);
  }
}

std::unique_ptr<Shard> setup_shard(Shared& shared) {
  return std::make_unique<Shard>(shared, Clock::time_point{}, Clock::time_point{});
}

// ---------------------------------------------------------------------------------------------
// The progress line: its own thread, reading the shared counters once a second.

Progress::Progress(Shared& shared, bool enabled) : _shared(shared) {
  if (enabled) {
    _tty = isatty(STDERR_FILENO) == 1;
    _thread = std::thread([this] { loop(); });
  }
}

void Progress::stop() {
  {
    std::lock_guard lock(_mutex);
    _stopping = true;
  }
  _wake.notify_all();
  if (_thread.joinable()) {
    _thread.join();
    if (_tty) {
      std::fputs("\n", stderr);
    }
  }
}

void Progress::loop() {
  const auto start = Clock::now();
  std::uint64_t last_ok = 0;
  std::int64_t last_second = 0;
  std::unique_lock lock(_mutex);
  /// Ends with the run; one wake-up a second.
  for (std::int64_t second = 1; !_stopping; ++second) {
    _wake.wait_until(lock, start + std::chrono::seconds(second), [this] { return _stopping; });
    if (_stopping) {
      break;
    }
    const std::uint64_t ok = _shared.live_ok.load();
    const std::uint64_t errors = _shared.live_errors.load();
    if (_tty || second % 5 == 0) {
      std::fprintf(stderr, "%s[%s] %llds  ok %llu  errors %llu  %llu/s%s", _tty ? "\r" : "", _shared.phase.load(),
                   static_cast<long long>(second), static_cast<unsigned long long>(ok),
                   static_cast<unsigned long long>(errors),
                   static_cast<unsigned long long>((ok - last_ok) / static_cast<std::uint64_t>(second - last_second)),
                   _tty ? "        " : "\n");
      std::fflush(stderr);
      last_ok = ok;
      last_second = second;
    }
  }
}

}  // namespace concertd::bench
