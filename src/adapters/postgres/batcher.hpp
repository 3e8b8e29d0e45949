#pragma once
// Group commit for PostgreSQL: operations of one kind that arrive while `max_in_flight` batches
// of that kind run wait together, and go as one call (one transaction) when a batch ends. Under
// light load an operation goes alone at once; under load a batch grows with the load, up to
// `max_batch`, so that PostgreSQL pays its per-statement and per-commit costs once per batch
// instead of once per operation.
//
// Everything here runs on the one executor (no locks). Every wait ends: a batch's call is bounded
// by the pool's acquire and query timeouts, and each batch answers every operation it took.
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "adapters/postgres/pg_pool.hpp"
#include "domain/assert.hpp"
#include "domain/errors.hpp"

namespace concertd::postgres {

template <class Request, class Outcome>
class Batcher : public std::enable_shared_from_this<Batcher<Request, Outcome>> {
 public:
  /// Decides a whole batch: one outcome per request, in order. Throws when nothing was decided.
  using Run = std::function<Task<std::vector<Outcome>>(const std::vector<Request>&)>;

  struct Limits {
    std::size_t max_batch;
    std::size_t max_in_flight;
    std::size_t max_waiting;  // beyond this, submit fails at once (Unavailable)
  };

  Batcher(boost::asio::any_io_executor executor, Run run, Limits limits)
      : _executor(std::move(executor)), _run(std::move(run)), _limits(limits) {}

  Task<Outcome> submit(Request request) {
    if (_waiting.size() >= _limits.max_waiting) {
      throw Unavailable("postgres: too many operations waiting for a batch");
    }
    auto entry = std::make_shared<Entry>(_executor, std::move(request));
    _waiting.push_back(entry);
    start_batches();
    if (!entry->done()) {  // a batch that could finish without suspending has answered already
      boost::system::error_code ignored;
      co_await entry->timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
    }
    if (entry->error) {
      std::rethrow_exception(entry->error);
    }
    co_return std::move(*entry->outcome);
  }

 private:
  struct Entry {
    Entry(const boost::asio::any_io_executor& executor, Request r) : request(std::move(r)), timer(executor) {
      timer.expires_at(boost::asio::steady_timer::time_point::max());
    }
    void finish(Outcome o) {
      outcome = std::move(o);
      timer.cancel();
    }
    void fail(std::exception_ptr e) {
      error = std::move(e);
      timer.cancel();
    }
    bool done() const { return outcome.has_value() || error != nullptr; }

    Request request;                  // moved into the batch that takes it
    boost::asio::steady_timer timer;  // cancelled when the outcome is in
    std::optional<Outcome> outcome;
    std::exception_ptr error;
  };
  using Batch = std::vector<std::shared_ptr<Entry>>;

  void start_batches() {
    while (_in_flight < _limits.max_in_flight && !_waiting.empty()) {
      Batch batch;
      while (!_waiting.empty() && batch.size() < _limits.max_batch) {
        batch.push_back(std::move(_waiting.front()));
        _waiting.pop_front();
      }
      ++_in_flight;
      boost::asio::co_spawn(_executor, run_batch(this->shared_from_this(), std::move(batch)), boost::asio::detached);
    }
  }

  /// Answers every entry of the batch, whatever fails, then gives the batch's slot back.
  static Task<void> run_batch(std::shared_ptr<Batcher> self, Batch batch) {
    // A batch the database refused as a whole (one bad request rolls back the transaction) is
    // rerun one request at a time, so that only the bad request fails. A lost connection fails
    // the batch: rerunning would only wait for the same outage again.
    std::vector<Request> requests;
    bool one_by_one = false;
    try {
      requests.reserve(batch.size());
      for (const auto& entry : batch) {
        requests.push_back(std::move(entry->request));
      }
      std::vector<Outcome> outcomes = co_await self->_run(requests);
      deliver(batch, 0, batch.size(), std::move(outcomes));
    } catch (const PgError& e) {
      if (batch.size() > 1) {
        spdlog::warn("postgres: a batch of {} was refused as a whole ({}); rerunning it one by one", batch.size(),
                     e.what());
        one_by_one = true;
      } else {
        batch[0]->fail(std::current_exception());
      }
    } catch (...) {
      for (const auto& entry : batch) {
        entry->fail(std::current_exception());
      }
    }
    for (std::size_t i = 0; one_by_one && i < batch.size(); ++i) {
      try {
        const std::vector<Request> one{requests[i]};
        std::vector<Outcome> outcomes = co_await self->_run(one);
        deliver(batch, i, 1, std::move(outcomes));
      } catch (...) {
        batch[i]->fail(std::current_exception());
      }
    }
    --self->_in_flight;
    self->start_batches();
  }

  /// The outcomes of batch[first, first + count), in order.
  static void deliver(const Batch& batch, std::size_t first, std::size_t count, std::vector<Outcome> outcomes) {
    CONCERTD_ASSERT(outcomes.size() == count, "a batch answers each of its operations once, in order");
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      batch[first + i]->finish(std::move(outcomes[i]));
    }
  }

  boost::asio::any_io_executor _executor;
  Run _run;
  Limits _limits;
  std::deque<std::shared_ptr<Entry>> _waiting;
  std::size_t _in_flight = 0;
};

}  // namespace concertd::postgres
