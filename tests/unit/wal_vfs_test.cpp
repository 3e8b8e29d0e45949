// The writer's VFS gathers a commit's log writes into one call (wal_vfs.hpp): the bytes must still
// be in the log file when the commit returns, for other connections and for a crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "adapters/sqlite/sqlite_db.hpp"
#include "adapters/sqlite/wal_vfs.hpp"
#include "domain/random.hpp"

namespace concertd::sqlite {
namespace {

namespace fs = std::filesystem;

/// A fresh directory under the system's temporary one, removed with everything in it.
struct TempDir {
  fs::path path = fs::temp_directory_path() / ("concertd-vfs-test-" + random_base64url(9));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const char* name) const { return (path / name).string(); }
};

std::int64_t count_rows(Database& db) {
  auto st = db.query("SELECT count(*) FROM t");
  st.step();
  return st.column_int(0);
}

TEST(BatchedWalVfs, ACommitReachesTheLogInOneWriteAndIsReadElsewhereAndAfterACrash) {
  const TempDir dir;
  const std::string path = dir.file("a.db");
  Database writer(path, LogWrites::Batched);
  writer.exec("PRAGMA journal_mode = WAL");
  writer.exec("PRAGMA synchronous = FULL");
  writer.exec("PRAGMA wal_autocheckpoint = 0");  // every frame stays in the log for the copy below
  writer.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)");

  const unsigned long long writes_before = batched_wal_writes();
  writer.exec("BEGIN");
  for (int k = 1; k <= 500; ++k) {
    writer.query("INSERT INTO t (k, v) VALUES (?1, ?2)").bind(1, std::int64_t{k}).bind(2, std::string(300, 'x')).run();
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
  Database batched(path, LogWrites::Batched);
  batched.exec("PRAGMA journal_mode = WAL");
  batched.exec("PRAGMA synchronous = NORMAL");
  batched.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)");
  Database other(path);
  for (int k = 1; k <= 20; ++k) {
    const unsigned long long writes_before = batched_wal_writes();
    batched.query("INSERT INTO t (k, v) VALUES (?1, ?2)").bind(1, std::int64_t{k}).bind(2, std::string(500, 'n')).run();
    EXPECT_GE(batched_wal_writes() - writes_before, 1u);
    EXPECT_EQ(count_rows(other), k);
  }
}

/// Pages a transaction spills to the log before it rolls back stay pending in the VFS; written
/// after the write lock is gone, they would overwrite what another connection commits meanwhile.
TEST(BatchedWalVfs, ARolledBackTransactionsSpilledFramesNeverLandOverAnotherWritersCommit) {
  const TempDir dir;
  const std::string path = dir.file("a.db");
  Database batched(path, LogWrites::Batched);
  batched.exec("PRAGMA journal_mode = WAL");
  batched.exec("PRAGMA synchronous = FULL");
  batched.exec("PRAGMA cache_size = 5");  // spills after a few pages
  batched.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)");
  batched.exec("INSERT INTO t (k, v) VALUES (1, 'kept')");
  batched.exec("PRAGMA wal_checkpoint(TRUNCATE)");  // the log starts again: the next frames go first

  batched.exec("BEGIN");
  for (int k = 100; k < 800; ++k) {
    batched.query("INSERT INTO t (k, v) VALUES (?1, ?2)").bind(1, std::int64_t{k}).bind(2, std::string(300, 'r')).run();
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
