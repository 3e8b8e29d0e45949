// Group commit: requests batched into one transaction stay independent of each other.
#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <future>

#include "adapters/sqlite/sqlite_store.hpp"
#include "test_support.hpp"

namespace concertd::sqlite {
namespace {

std::unique_ptr<Database> settings_db() {
  auto db = std::make_unique<Database>(":memory:");
  db->exec("CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)");
  return db;
}

TEST(SqliteWorker, AFailingRequestRollsBackAloneAndTheBatchCommits) {
  std::array<int, 3> runs{};  // of the batch's jobs a, b and c (the worker thread only)
  std::promise<void> release_first;
  std::shared_future<void> first_may_finish = release_first.get_future().share();
  std::vector<std::promise<std::exception_ptr>> outcomes(4);
  Database* seen = nullptr;
  {
    Worker worker(settings_db(), true);
    auto insert = [](Database& db, const char* name) {
      db.query("INSERT INTO settings (name, value) VALUES (?1, 'x')").bind(1, std::string_view(name)).run();
    };
    // The first job holds the worker so that the next three queue up and run as one batch.
    worker.submit({[&](Database& db) {
                     seen = &db;
                     first_may_finish.wait();
                   },
                   [&](std::exception_ptr e) { outcomes[0].set_value(e); }});
    worker.submit({[&](Database& db) {
                     ++runs[0];
                     insert(db, "a");
                   },
                   [&](std::exception_ptr e) { outcomes[1].set_value(e); }});
    worker.submit({[&](Database& db) {
                     ++runs[1];
                     insert(db, "b");
                     throw std::runtime_error("broken on purpose after a write");
                   },
                   [&](std::exception_ptr e) { outcomes[2].set_value(e); }});
    worker.submit({[&](Database& db) {
                     ++runs[2];
                     insert(db, "c");
                   },
                   [&](std::exception_ptr e) { outcomes[3].set_value(e); }});
    release_first.set_value();
    EXPECT_EQ(outcomes[0].get_future().get(), nullptr);
    EXPECT_EQ(outcomes[1].get_future().get(), nullptr);
    EXPECT_NE(outcomes[2].get_future().get(), nullptr);
    EXPECT_EQ(outcomes[3].get_future().get(), nullptr);
    std::promise<std::vector<std::string>> names;
    worker.submit({[&](Database& db) {
                     std::vector<std::string> out;
                     auto st = db.query("SELECT name FROM settings ORDER BY name");
                     while (st.step()) {
                       out.push_back(st.column_text(0));
                     }
                     names.set_value(out);
                   },
                   [](std::exception_ptr) {}});
    EXPECT_EQ(names.get_future().get(), (std::vector<std::string>{"a", "c"}));
    // One transaction for the three first; b's throw undid it, and the batch ran again with each
    // job in its own savepoint (c had not run yet the first time).
    EXPECT_EQ(runs, (std::array<int, 3>{2, 2, 1}));
  }
  EXPECT_NE(seen, nullptr);
}

TEST(SqliteWorker, AFullQueueRefusesInsteadOfGrowing) {
  std::promise<void> release;
  std::shared_future<void> may_finish = release.get_future().share();
  Worker worker(settings_db(), true);
  worker.submit({[&](Database&) { may_finish.wait(); }, [](std::exception_ptr) {}});
  std::size_t accepted = 0;
  while (worker.submit({[](Database&) {}, [](std::exception_ptr) {}}) && accepted <= Worker::kMaxQueuedJobs + 1) {
    ++accepted;
  }
  // The worker may already have taken some into the blocked batch; the queue itself is bounded.
  EXPECT_GE(accepted + 1, Worker::kMaxQueuedJobs);  // + the blocked job, if still queued
  EXPECT_LE(accepted, Worker::kMaxQueuedJobs + Worker::kMaxBatch);
  release.set_value();
}

/// The seat map cache hears of seat writes from the connection itself: every statement that
/// inserts, updates or deletes rows of the watched table counts, whatever code runs it; reads and
/// writes to other tables do not (a WITHOUT ROWID table, as seats is, included).
TEST(SqliteDatabase, CountsTheStepsOfStatementsThatWriteTheWatchedTable) {
  Database db(":memory:");
  db.watch_writes_to("seats");
  db.exec("CREATE TABLE seats (n INTEGER PRIMARY KEY, status TEXT) WITHOUT ROWID; CREATE TABLE other (n INTEGER)");
  auto runs = [&db](const char* sql) {
    const auto before = db.watched_writes();
    db.query(sql).run();
    return db.watched_writes() - before;
  };
  static constexpr const char* kInsert = "INSERT INTO seats VALUES (1, 'AVAILABLE'), (2, 'AVAILABLE')";
  static constexpr const char* kUpdate = "UPDATE seats SET status = 'HELD' WHERE n = 1";
  static constexpr const char* kDelete = "DELETE FROM seats WHERE n = 2";
  static constexpr const char* kRead = "SELECT COUNT(*) FROM seats";
  static constexpr const char* kOther = "INSERT INTO other VALUES (1)";
  static constexpr const char* kOtherFromSeats = "INSERT INTO other SELECT n FROM seats";
  EXPECT_GE(runs(kInsert), 1u);
  EXPECT_GE(runs(kUpdate), 1u);
  EXPECT_GE(runs(kDelete), 1u);
  EXPECT_EQ(runs(kRead), 0u);
  EXPECT_EQ(runs(kOther), 0u);
  EXPECT_EQ(runs(kOtherFromSeats), 0u);
  EXPECT_GE(runs(kUpdate), 1u);  // the cached statement still counts on its second use
}

/// A file store writes its log into zeros written ahead (preallocate_wal); commits there survive a
/// crash: the files copied while the store is open, as a kill -9 leaves them, open with them. Two
/// rounds, so that the second store preallocates after recovering a crashed log.
TEST(SqliteFileStore, CommitsInThePreallocatedLogSurviveACrash) {
  namespace fs = std::filesystem;
  const testing::TempDir temp;
  const fs::path& dir = temp.path;
  fs::create_directories(dir / "0");
  boost::asio::io_context io;
  // Writes `name` in a store opened on `from`, then copies its files to `to` while it is open.
  auto write_and_crash = [&](const fs::path& from, const fs::path& to, const std::string& name) {
    SqliteStore store(from.string(), {});
    // 16384 frames of a 4 KiB page (SQLite's default page size) and its 24-byte frame header.
    ASSERT_GE(fs::file_size(from.string() + "-wal"), 16384u * (4096u + 24u));
    testing::run(io, store.put_settings({{name, "42"}}));
    fs::create_directories(to.parent_path());
    for (const char* suffix : {"", "-wal"}) {
      fs::copy_file(from.string() + suffix, to.string() + suffix);
    }
  };
  write_and_crash(dir / "0" / "concertd.db", dir / "1" / "concertd.db", "first");
  write_and_crash(dir / "1" / "concertd.db", dir / "2" / "concertd.db", "second");
  SqliteStore store((dir / "2" / "concertd.db").string(), {});
  const auto settings = testing::run(io, store.load_settings());
  EXPECT_EQ(settings.at("first"), "42");
  EXPECT_EQ(settings.at("second"), "42");
}

}  // namespace
}  // namespace concertd::sqlite
