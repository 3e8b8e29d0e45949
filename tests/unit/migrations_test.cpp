// Migrations are append-only on both engines: an applied file is never edited (a data file made
// by an earlier build would not be migrated to the edit), and a file made by the first migration
// alone is migrated forward with its data. (SQLite's 0001 was edited once, before this test, from
// IN lists to OR chains in its CHECKs: the same constraints, so files made before still work.)
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "adapters/sqlite/sqlite_store.hpp"

namespace concertd {
namespace {

namespace fs = std::filesystem;

/// SHA-256 of every migration as it was applied. A new migration adds its line; a changed
/// checksum means an applied migration was edited: write a new one instead.
const std::map<std::string, std::string> kApplied = {
    {"sqlite/0001_initial.sql", "957c6b6476fb5a7a14a0f7fbaf22eebb50c42082fd9f5aed12cc23f2c93fa743"},
    {"sqlite/0002_pre_queue.sql", "2386f26d74fce1886ef7d2c4d78aa348d7a5ae7bedb033267d8e0f0937e26bea"},
    {"postgres/0001_initial.sql", "22af4c341045d86c8eef90f57304456bde2cd2c9fea8dfcfada9973582c2ec8b"},
    {"postgres/0002_bounded_hold_count.sql", "1fd9c1b70996a88555fd23c30fb8ae3217fbca5ebbdf06bcc35a2b87f8bd69bd"},
    {"postgres/0003_batched_holds.sql", "3f37b213f82c691747eab0082437cf9e8788616c1c661b58c37574aba1e952d1"},
    {"postgres/0004_batched_payments.sql", "9fdce42895efd09664a8f24fdb86408080fe94eadb68aea5fb005d64d8c6a185"},
    {"postgres/0005_unmatched_token_changes.sql", "5d02aa808f90660a2bee859de7f9861ae1537f73d39ab621bab5cc553382c06e"},
    {"postgres/0006_pre_queue.sql", "e7fa3456e04e5db45ff4ea0a20c803606f924cdecad0fd95fe18563570bfbea1"},
    {"postgres/0007_idempotency_window_from_the_server.sql",
     "e635030d83efd0dc0d3f68e0e75356eed34090aef46d8b5d883300216a8ae68c"},
};

const fs::path kAdapters = fs::path(CONCERTD_SOURCE_DIR) / "src" / "adapters";

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string sha256_hex(const std::string& text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (const unsigned char b : digest) {
    hex += kHex[b >> 4];
    hex += kHex[b & 0xF];
  }
  return hex;
}

TEST(Migrations, AnAppliedMigrationIsNeverEdited) {
  std::map<std::string, std::string> found;
  for (const char* engine : {"sqlite", "postgres"}) {
    for (const auto& entry : fs::directory_iterator(kAdapters / engine / "migrations")) {
      if (entry.path().extension() == ".sql") {
        found[std::string(engine) + "/" + entry.path().filename().string()] = sha256_hex(read_file(entry.path()));
      }
    }
  }
  for (const auto& [name, checksum] : kApplied) {
    ASSERT_TRUE(found.count(name)) << name << " was applied by earlier builds: it may not be removed";
    EXPECT_EQ(found[name], checksum) << name << " was applied by earlier builds: add a new migration instead";
  }
  for (const auto& [name, checksum] : found) {
    EXPECT_TRUE(kApplied.count(name)) << "new migration " << name << ": add {\"" << name << "\", \"" << checksum
                                      << "\"} to kApplied";
  }
}

/// Runs SQL on a file outside the store, as an earlier build left it.
void exec(sqlite3* db, const std::string& sql) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  ASSERT_EQ(rc, SQLITE_OK) << (error ? error : "") << "\n" << sql;
}

std::int64_t count(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sql;
  std::int64_t n = -1;
  if (sqlite3_step(st) == SQLITE_ROW) {
    n = sqlite3_column_int64(st, 0);
  }
  sqlite3_finalize(st);
  return n;
}

TEST(Migrations, AFileMadeByTheFirstMigrationAloneMovesForwardWithItsData) {
  const fs::path dir = fs::temp_directory_path() / ("concertd-migrate-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string path = (dir / "concertd.db").string();
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    exec(db, "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)");
    exec(db, read_file(kAdapters / "sqlite" / "migrations" / "0001_initial.sql"));
    exec(db, "INSERT INTO schema_migrations VALUES ('0001_initial.sql', 0)");
    exec(db,
         "INSERT INTO concerts VALUES (1, 'first', 'hall', 20000, 2, 50000, 50000, 1);"
         "INSERT INTO seats (concert_id, number, price) VALUES (1, 1, 50000), (1, 2, 50000);"
         "INSERT INTO tokens VALUES ('tok-w', 'alice', 1, 'WAITING', 1000, NULL, NULL);"
         "INSERT INTO tokens VALUES ('tok-a', 'bob', 2, 'ACTIVE', 1001, 99999999999999, NULL);");
    sqlite3_close(db);
  }
  { const sqlite::SqliteStore store(path, {}); }  // applies what follows 0001
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(count(db, "SELECT count(*) FROM schema_migrations"), 2);
  EXPECT_EQ(count(db, "SELECT count(*) FROM seats WHERE concert_id = 1"), 2);
  EXPECT_EQ(count(db, "SELECT seq FROM tokens WHERE id = 'tok-w' AND state = 'WAITING' AND user_id = 'alice'"), 1);
  EXPECT_EQ(count(db, "SELECT seq FROM tokens WHERE id = 'tok-a' AND state = 'ACTIVE'"), 2);
  // 0002's state is accepted now, and the old CHECK's refusal of anything else still holds.
  exec(db, "INSERT INTO tokens VALUES ('tok-p', 'carol', 3, 'PRE_QUEUE', 1002, NULL, NULL)");
  EXPECT_NE(sqlite3_exec(db, "INSERT INTO tokens VALUES ('tok-x', 'dave', 4, 'LOST', 1003, NULL, NULL)", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace concertd
