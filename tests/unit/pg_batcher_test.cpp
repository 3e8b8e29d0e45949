// Group commit for PostgreSQL: who goes in which batch, and who fails when a batch fails.
// The "database" is a function of the test; the first batch waits at a gate the test opens, so
// that the requests sent meanwhile are known to queue behind it.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "adapters/postgres/batcher.hpp"

namespace concertd::postgres {
namespace {

namespace asio = boost::asio;
using IntBatcher = Batcher<int, int>;

/// Answers request * 10; refuses a batch holding `poison` (as a constraint would) or fails
/// every batch of more than one with a lost connection.
struct FakeDatabase {
  explicit FakeDatabase(asio::io_context& io) : gate(io) { gate.expires_at(asio::steady_timer::time_point::max()); }

  asio::steady_timer gate;  // the first batch waits here until cancelled
  std::vector<std::vector<int>> batches;
  std::optional<int> poison;
  bool connection_lost = false;
};

Task<std::vector<int>> run_fake(FakeDatabase& db, const std::vector<int>& requests) {
  db.batches.push_back(requests);
  if (db.batches.size() == 1) {
    boost::system::error_code ignored;
    co_await db.gate.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
  if (db.connection_lost && requests.size() > 1) {
    throw Unavailable("connection lost");
  }
  std::vector<int> out;
  for (const int r : requests) {
    if (db.poison && r == *db.poison) {
      throw PgError("23505", "duplicate key");
    }
    out.push_back(r * 10);
  }
  co_return out;
}

struct Outcome {
  std::optional<int> value;
  std::string error;  // "PgError", "Unavailable" or empty
  bool done = false;
};

Task<void> submit_into(std::shared_ptr<IntBatcher> batcher, int request, Outcome& outcome) {
  try {
    outcome.value = co_await batcher->submit(request);
  } catch (const PgError&) {
    outcome.error = "PgError";
  } catch (const Unavailable&) {
    outcome.error = "Unavailable";
  }
  outcome.done = true;
}

class PgBatcherTest : public ::testing::Test {
 protected:
  std::shared_ptr<IntBatcher> make(IntBatcher::Limits limits) {
    auto run = [this](const std::vector<int>& requests) { return run_fake(db, requests); };
    return std::make_shared<IntBatcher>(io.get_executor(), run, limits);
  }
  void submit(const std::shared_ptr<IntBatcher>& batcher, int request, Outcome& outcome) {
    asio::co_spawn(io, submit_into(batcher, request, outcome), asio::detached);
    io.poll();
  }
  /// Submits the requests one after another (each runs as far as it can before the next); their
  /// outcomes land in `outcomes`, in order.
  void submit_all(const std::shared_ptr<IntBatcher>& batcher, const std::vector<int>& requests) {
    outcomes.resize(requests.size());  // sized once: the coroutines keep references into it
    for (std::size_t i = 0; i < requests.size(); ++i) {
      submit(batcher, requests[i], outcomes[i]);
    }
  }

  asio::io_context io;
  FakeDatabase db{io};
  std::vector<Outcome> outcomes;
};

TEST_F(PgBatcherTest, RequestsArrivingWhileABatchRunsGoTogetherInTheNext) {
  auto batcher = make({64, 1, 100});
  submit_all(batcher, {1, 2, 3, 4});
  EXPECT_FALSE(outcomes[0].done);
  db.gate.cancel();
  io.run();
  EXPECT_EQ(db.batches, (std::vector<std::vector<int>>{{1}, {2, 3, 4}}));
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    EXPECT_TRUE(outcomes[i].done);
    EXPECT_EQ(outcomes[i].value, static_cast<int>(i + 1) * 10);
  }
}

TEST_F(PgBatcherTest, ABatchIsNoLargerThanItsLimit) {
  auto batcher = make({2, 1, 100});
  submit_all(batcher, {1, 2, 3, 4, 5});
  db.gate.cancel();
  io.run();
  EXPECT_EQ(db.batches, (std::vector<std::vector<int>>{{1}, {2, 3}, {4, 5}}));
}

TEST_F(PgBatcherTest, ABatchTheDatabaseRefusesIsRerunOneByOneSoOnlyTheBadRequestFails) {
  db.poison = 13;
  auto batcher = make({64, 1, 100});
  submit_all(batcher, {11, 12, 13, 14});
  db.gate.cancel();
  io.run();
  EXPECT_EQ(db.batches, (std::vector<std::vector<int>>{{11}, {12, 13, 14}, {12}, {13}, {14}}));
  EXPECT_EQ(outcomes[1].value, 120);
  EXPECT_EQ(outcomes[2].error, "PgError");
  EXPECT_FALSE(outcomes[2].value);
  EXPECT_EQ(outcomes[3].value, 140);
}

TEST_F(PgBatcherTest, ALostConnectionFailsTheWholeBatchWithoutRerunningIt) {
  db.connection_lost = true;
  auto batcher = make({64, 1, 100});
  submit_all(batcher, {1, 2, 3});
  db.gate.cancel();
  io.run();
  EXPECT_EQ(db.batches, (std::vector<std::vector<int>>{{1}, {2, 3}}));
  EXPECT_EQ(outcomes[0].value, 10);
  EXPECT_EQ(outcomes[1].error, "Unavailable");
  EXPECT_EQ(outcomes[2].error, "Unavailable");
}

TEST_F(PgBatcherTest, AFullLineRefusesAtOnceInsteadOfGrowing) {
  auto batcher = make({64, 1, 2});
  submit_all(batcher, {1, 2, 3, 4});
  EXPECT_TRUE(outcomes[3].done);  // 1 runs, 2 and 3 wait: 4 finds the line full
  EXPECT_EQ(outcomes[3].error, "Unavailable");
  db.gate.cancel();
  io.run();
  EXPECT_EQ(db.batches, (std::vector<std::vector<int>>{{1}, {2, 3}}));
  EXPECT_EQ(outcomes[2].value, 30);
}

TEST_F(PgBatcherTest, BatchesRunSideBySideUpToTheInFlightLimit) {
  auto batcher = make({64, 2, 100});
  submit_all(batcher, {1, 2});
  // 1 waits at the gate; 2 went as a second batch beside it and is answered already.
  EXPECT_FALSE(outcomes[0].done);
  EXPECT_EQ(outcomes[1].value, 20);
  db.gate.cancel();
  io.run();
  EXPECT_EQ(db.batches, (std::vector<std::vector<int>>{{1}, {2}}));
  EXPECT_EQ(outcomes[0].value, 10);
}

}  // namespace
}  // namespace concertd::postgres
