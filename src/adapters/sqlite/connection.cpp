#include "adapters/sqlite/connection.hpp"

#include <filesystem>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "adapters/sqlite/sql.hpp"
#include "adapters/sqlite/wal_vfs.hpp"

namespace concertd::sqlite {

const std::vector<std::pair<std::string_view, std::string_view>>& migrations();  // generated

namespace {

/// Each migration not applied yet, in name order, in a transaction of its own.
void apply_migrations(Database& db) {
  db.exec(sql::kCreateMigrationsTable);
  for (const auto& [name, text] : migrations()) {
    auto check = db.query(sql::kMigrationApplied);
    check.bind(1, name);
    if (check.step()) {
      continue;
    }
    db.exec("BEGIN IMMEDIATE");
    try {
      db.exec(text);
      db.query(sql::kRecordMigration).bind(1, name).bind(2, std::int64_t{0}).run();
      db.exec("COMMIT");
    } catch (...) {
      db.rollback_if_open();  // the cause is what is thrown
      throw;
    }
    spdlog::info("applied migration {}", name);
  }
}

std::unique_ptr<Database> open_connection(const std::string& path, bool writer) {
  // The writer's log appends go to the file in one call per commit (wal_vfs.hpp).
  auto db = std::make_unique<Database>(path, writer ? LogWrites::Batched : LogWrites::Direct);
  db->exec("PRAGMA foreign_keys = ON");
  if (writer) {
    db->exec("PRAGMA journal_mode = WAL");
  }
  // FULL: a commit is on disk before any request of its batch is answered.
  db->exec("PRAGMA synchronous = FULL");
  return db;
}

}  // namespace

std::unique_ptr<Database> open_writer(const std::string& path) {
  auto db = open_connection(path, true);
  db->watch_writes_to(kSeatsTable);
  apply_migrations(*db);
  if (path != ":memory:") {
    // The checkpointer does the work; the writer's own checkpoint stays only as a bound on the
    // log should the checkpointer fall behind (64 MiB instead of the default 4 MiB).
    db->exec("PRAGMA wal_autocheckpoint = " + std::to_string(kWalAutocheckpointPages));
    preallocate_wal(*db, path + "-wal");
  }
  return db;
}

std::unique_ptr<Database> open_reader(const std::string& path) { return open_connection(path, false); }

void copy_database(const std::string& path, const std::string& target) {
  if (!std::filesystem::is_regular_file(path)) {
    throw std::runtime_error("no store at " + path);  // opening it would create an empty one
  }
  if (std::filesystem::exists(target)) {
    throw std::runtime_error(target + " exists already");
  }
  auto db = open_reader(path);
  db->query("VACUUM INTO ?1").bind(1, target).run();
}

}  // namespace concertd::sqlite
