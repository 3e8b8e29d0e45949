#pragma once
// From a coroutine on the event loop to a worker's thread and back: a store operation is a
// closure run as one job of a batch, and its caller resumes on its own executor after the batch
// has committed. What a committed job did to seats is learned here, for every operation alike:
// a write to the seats table (Database::watch_writes_to) or a hold released for expiry makes
// every cached seat map stale before the caller resumes.
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "adapters/sqlite/worker.hpp"
#include "domain/errors.hpp"
#include "ports/store.hpp"

namespace concertd::sqlite {

/// What a job sees: the connection, and where to note the holds it released for expiry.
struct JobContext {
  Database& db;
  std::vector<Reservation>& released;
};

class JobBridge {
 public:
  explicit JobBridge(ReleaseListener on_release) : _on_release(std::move(on_release)) {}

  /// Runs `fn(JobContext&)` on `worker` and resumes the caller with its result after the commit.
  template <class Fn>
  auto on(Worker& worker, Fn fn) -> Task<std::invoke_result_t<Fn&, JobContext&>>;

  /// Bumped after the commit of every job that wrote a seat, before its caller resumes: a seat
  /// map read under an older generation is never served after the write is acknowledged.
  std::uint64_t seat_generation() const { return _seat_generation.load(std::memory_order_acquire); }

 private:
  /// What the job's last run did, reset before each run (a run undone with its batch runs again).
  struct JobEffects {
    std::vector<Reservation> released;
    bool seats_written = false;
  };

  template <class Result>
  struct JobState {
    std::conditional_t<std::is_void_v<Result>, std::monostate, std::optional<Result>> result;
    JobEffects effects;
    std::function<void(JobContext&)> run;
  };

  template <class Result>
  Task<Result> wait_for(Worker& worker, std::shared_ptr<JobState<Result>> state);

  /// Runs one job's closure on the worker's thread, noting its effects.
  static void run_job(Database& db, JobEffects& effects, const std::function<void(JobContext&)>& run) {
    effects.released.clear();
    const std::uint64_t seat_writes_before = db.watched_writes();
    JobContext ctx{db, effects.released};
    run(ctx);
    effects.seats_written = db.watched_writes() != seat_writes_before;  // a release frees its seat, so counts too
  }

  /// On the worker's thread, after the commit and before the caller resumes.
  void committed(const JobEffects& effects) {
    if (effects.seats_written) {
      _seat_generation.fetch_add(1, std::memory_order_release);
    }
    if (_on_release) {
      for (const auto& hold : effects.released) {
        _on_release(hold);
      }
    }
  }

  ReleaseListener _on_release;
  std::atomic<std::uint64_t> _seat_generation{0};
};

/// The only coroutine of the bridge, and it takes no closure: GCC 12 destroys a capturing lambda
/// that appears in a co_await expression twice, so closures are built in the plain functions
/// around it.
template <class Result>
Task<Result> JobBridge::wait_for(Worker& worker, std::shared_ptr<JobState<Result>> state) {
  auto initiation = [this, &worker, state](auto handler) {
    auto shared_handler = std::make_shared<decltype(handler)>(std::move(handler));
    auto complete = [shared_handler](std::exception_ptr error) {
      auto executor = boost::asio::get_associated_executor(*shared_handler);
      boost::asio::post(executor, [shared_handler, error]() mutable { std::move (*shared_handler)(error); });
    };
    Worker::Job job{[state](Database& db) { run_job(db, state->effects, state->run); },
                    [this, state, complete](std::exception_ptr error) {
                      if (!error) {
                        committed(state->effects);
                      }
                      state->run = nullptr;  // drop the closure on the worker, not later
                      complete(error);
                    }};
    if (!worker.submit(std::move(job))) {
      complete(std::make_exception_ptr(Unavailable("storage queue is full")));
    }
  };
  co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(std::exception_ptr)>(
      initiation, boost::asio::use_awaitable);
  if constexpr (!std::is_void_v<Result>) {
    co_return std::move(*state->result);
  }
}

template <class Fn>
auto JobBridge::on(Worker& worker, Fn fn) -> Task<std::invoke_result_t<Fn&, JobContext&>> {
  using Result = std::invoke_result_t<Fn&, JobContext&>;
  auto state = std::make_shared<JobState<Result>>();
  if constexpr (std::is_void_v<Result>) {
    state->run = [fn = std::move(fn)](JobContext& ctx) mutable { fn(ctx); };
  } else {
    JobState<Result>* raw = state.get();  // the closure lives in the state; no cycle
    state->run = [raw, fn = std::move(fn)](JobContext& ctx) mutable { raw->result = fn(ctx); };
  }
  return wait_for<Result>(worker, std::move(state));
}

}  // namespace concertd::sqlite
