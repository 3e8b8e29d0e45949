// The writer's VFS gathers a commit's log writes into one call (wal_vfs.hpp): the bytes must still
// be in the log file when the commit returns, for other connections and for a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "adapters/sqlite/sqlite_db.hpp"
#include "adapters/sqlite/wal_vfs.hpp"
#include "test_support.hpp"

namespace concertd::sqlite {
namespace {

namespace fs = std::filesystem;

using testing::TempDir;

/// A connection through the batching VFS on a new WAL database with one table t (k, v).
std::unique_ptr<Database> open_batched(const std::string& path, const char* synchronous) {
  auto db = std::make_unique<Database>(path, LogWrites::Batched);
  db->exec("PRAGMA journal_mode = WAL");
  db->exec(std::string("PRAGMA synchronous = ") + synchronous);
  db->exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)");
  return db;
}

/// Inserts row k of t with a value of `size` bytes.
void insert_row(Database& db, int k, std::size_t size) {
  db.query("INSERT INTO t (k, v) VALUES (?1, ?2)").bind(1, std::int64_t{k}).bind(2, std::string(size, 'x')).run();
}

std::int64_t count_rows(Database& db) {
  auto st = db.query("SELECT count(*) FROM t");
  st.step();
  return st.column_int(0);
}

TEST(BatchedWalVfs, ACommitReachesTheLogInOneWriteAndIsReadElsewhereAndAfterACrash) {
  const TempDir dir;
  const std::string path = dir.file("a.db");
  auto db = open_batched(path, "FULL");
  Database& writer = *db;
  writer.exec("PRAGMA wal_autocheckpoint = 0");  // every frame stays in the log for the copy below

  const unsigned long long writes_before = batched_wal_writes();
  writer.exec("BEGIN");
  for (int k = 1; k <= 500; ++k) {
    insert_row(writer, k, 300);
  }
  writer.exec("COMMIT");
  // ~40 frames: ~80 write calls without the VFS, 2 with it (pieces of 31 pages at most).
  EXPECT_GE(fs::file_size(path + "-wal"), 30u * (4096u + 24u));
  EXPECT_GE(batched_wal_writes() - writes_before, 1u);
  EXPECT_LE(batched_wal_writes() - writes_before, 3u);

  Database reader(path);  // SQLite's own VFS
  EXPECT_EQ(count_rows(reader), 500);

  // What kill -9 leaves: the files as they are while the writer is open.
  const std::string copy = dir.file("b.db");
  for (const char* suffix : {"", "-wal"}) {
    fs::copy_file(path + suffix, copy + suffix);
  }
  Database recovered(copy);
  EXPECT_EQ(count_rows(recovered), 500);
  auto check = recovered.query("PRAGMA integrity_check");
  ASSERT_TRUE(check.step());
  EXPECT_EQ(check.column_text(0), "ok");
}

/// Without a sync at commit (synchronous = NORMAL), a commit's frames still reach the file with
/// its last frame, before other connections learn of them.
TEST(BatchedWalVfs, WithoutASyncAtCommitAnotherConnectionStillReadsEveryCommit) {
  const TempDir dir;
  const std::string path = dir.file("a.db");
  auto db = open_batched(path, "NORMAL");
  Database& batched = *db;
  Database other(path);
  for (int k = 1; k <= 20; ++k) {
    const unsigned long long writes_before = batched_wal_writes();
    insert_row(batched, k, 500);
    EXPECT_GE(batched_wal_writes() - writes_before, 1u);
    EXPECT_EQ(count_rows(other), k);
  }
}

/// Pages a transaction spills to the log before it rolls back stay pending in the VFS; written
/// after the write lock is gone, they would overwrite what another connection commits meanwhile.
TEST(BatchedWalVfs, ARolledBackTransactionsSpilledFramesNeverLandOverAnotherWritersCommit) {
  const TempDir dir;
  const std::string path = dir.file("a.db");
  auto db = open_batched(path, "FULL");
  Database& batched = *db;
  batched.exec("PRAGMA cache_size = 5");  // spills after a few pages
  batched.exec("INSERT INTO t (k, v) VALUES (1, 'kept')");
  batched.exec("PRAGMA wal_checkpoint(TRUNCATE)");  // the log starts again: the next frames go first

  batched.exec("BEGIN");
  for (int k = 100; k < 800; ++k) {
    insert_row(batched, k, 300);
  }
  batched.exec("ROLLBACK");

  Database other(path);  // another writer, SQLite's own VFS
  other.exec("PRAGMA synchronous = FULL");
  other.exec("INSERT INTO t (k, v) VALUES (1000, 'other'), (1001, 'other')");
  batched.exec("INSERT INTO t (k, v) VALUES (2000, 'later')");

  Database check(path);
  auto keys = check.query("SELECT group_concat(k) FROM (SELECT k FROM t ORDER BY k)");
  ASSERT_TRUE(keys.step());
  EXPECT_EQ(keys.column_text(0), "1,1000,1001,2000");
}

}  // namespace
}  // namespace concertd::sqlite
