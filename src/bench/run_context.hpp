#pragma once
// What one `concertd bench` run shares, whatever its scenario: the run's state (`Shared`: where
// to send, its name, clock origin, live counters, notes and the first failure), the shards that
// send (`Shard`: an io_context and a recorder each), the outcome the report is made of and the
// progress line. Internal to src/bench; no Beast here (it stays in http_client.cpp).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>

#include "bench/http_client.hpp"
#include "bench/invariants.hpp"
#include "bench/report.hpp"
#include "bench/scenarios.hpp"
#include "bench/stats.hpp"

namespace concertd::bench {

// The vocabulary of the bench's implementation files.
namespace asio = boost::asio;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using std::chrono::duration;
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

inline constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);

/// What every shard of a run shares: where to send, the run's name, its clock origin and the
/// live counters the progress line prints.
struct Shared {
  Shared(const BenchConfig& config, tcp::endpoint to, std::string host, std::string run)
      : cfg(config), endpoint(to), host_header(std::move(host)), run_id(std::move(run)), origin(Clock::now()) {}

  const BenchConfig& cfg;
  tcp::endpoint endpoint;
  std::string host_header;
  std::string run_id;
  Clock::time_point origin;
  std::atomic<std::uint64_t> live_ok{0};
  std::atomic<std::uint64_t> live_errors{0};
  std::atomic<bool> stop{false};
  std::atomic<const char*> phase{"setup"};
  std::atomic<std::int64_t> concerts_created{0};
  std::mutex mutex;
  std::string fatal;               ///< guarded by mutex; the first reason the run cannot go on
  std::vector<std::string> notes;  ///< guarded by mutex

  void fail(const std::string& why) {
    std::lock_guard lock(mutex);
    if (fatal.empty()) {
      fatal = why;
    }
    stop = true;
  }
  void note(const std::string& what) {
    std::lock_guard lock(mutex);
    if (std::find(notes.begin(), notes.end(), what) == notes.end() && notes.size() < 32) {
      notes.push_back(what);
    }
  }
  std::int64_t micros_since_origin(Clock::time_point t) const {
    return duration_cast<microseconds>(t - origin).count();
  }
};

/// Eight random hex digits naming the run (its users, its concerts).
std::string random_run_id();

/// One shard: an io_context driven by one thread, with its own recorder.
struct Shard {
  Shared& shared;
  asio::io_context io{1};
  Recorder rec;

  Shard(Shared& s, Clock::time_point start, Clock::time_point end) : shared(s), rec(start, end) {}

  std::unique_ptr<HttpConnection> connect() {
    return std::make_unique<HttpConnection>(io.get_executor(), shared.endpoint, shared.host_header,
                                            milliseconds(shared.cfg.timeout_ms));
  }

  /// Sends one request and counts it in `step` (when given); latency from `started`.
  Task<void> call(HttpConnection& conn, StepStats* step, Method method, std::string_view target, std::string_view body,
                  const RequestHeaders& headers, int ok_status, Clock::time_point started, Exchange& ex);

  Task<void> sleep_until(Clock::time_point t);
};

/// Runs `task` on the shard's io_context to the end and rethrows what it threw.
template <class T>
T run_blocking(Shard& shard, Task<T> task) {
  std::exception_ptr failure;
  std::optional<T> result;
  asio::co_spawn(shard.io, std::move(task), [&](std::exception_ptr e, T value) {
    failure = e;
    if (!e) {
      result = std::move(value);
    }
  });
  shard.io.restart();
  shard.io.run();
  if (failure) {
    std::rethrow_exception(failure);
  }
  return std::move(*result);
}

void run_blocking_void(Shard& shard, Task<void> task);

/// A setup shard: its own io_context, used before the load starts.
std::unique_ptr<Shard> setup_shard(Shared& shared);

/// What a scenario leaves for the report: the merged recorder and the scenario's own figures.
struct Outcome {
  Recorder merged{Clock::time_point{}, Clock::time_point{}};
  std::optional<FanOutcomes> fans;
  json::object extra;
  bool invariants_checked = false;
  InvariantReport invariants;
  std::string main_step;
};

/// The progress line: its own thread, reading the shared counters once a second.
class Progress {
 public:
  Progress(Shared& shared, bool enabled);
  ~Progress() { stop(); }

  void stop();

 private:
  void loop();

  Shared& _shared;
  bool _tty = false;
  std::mutex _mutex;
  std::condition_variable _wake;
  bool _stopping = false;
  std::thread _thread;
};

}  // namespace concertd::bench
