#include "adapters/sqlite/sqlite_db.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "adapters/sqlite/wal_vfs.hpp"
#include "domain/assert.hpp"

namespace concertd::sqlite {
namespace {

[[noreturn]] void fail(sqlite3* db, int rc) {
  throw SqliteError(rc, std::string("sqlite: ") + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
}

}  // namespace

Statement::~Statement() {
  sqlite3_reset(_stmt);
  sqlite3_clear_bindings(_stmt);
}

Statement& Statement::bind(int index, std::int64_t value) {
  if (const int rc = sqlite3_bind_int64(_stmt, index, value); rc != SQLITE_OK) {
    fail(sqlite3_db_handle(_stmt), rc);
  }
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  if (const int rc = sqlite3_bind_text(_stmt, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
      rc != SQLITE_OK) {
    fail(sqlite3_db_handle(_stmt), rc);
  }
  return *this;
}

Statement& Statement::bind(int index, std::nullopt_t) {
  if (const int rc = sqlite3_bind_null(_stmt, index); rc != SQLITE_OK) {
    fail(sqlite3_db_handle(_stmt), rc);
  }
  return *this;
}

Statement& Statement::bind(int index, const std::optional<std::int64_t>& value) {
  return value ? bind(index, *value) : bind(index, std::nullopt);
}

bool Statement::step() {
  if (_watched_writes != nullptr) {
    ++*_watched_writes;
  }
  const int rc = sqlite3_step(_stmt);
  if (rc == SQLITE_ROW) {
    return true;
  }
  if (rc == SQLITE_DONE) {
    return false;
  }
  fail(sqlite3_db_handle(_stmt), rc);
}

void Statement::run() {
  while (step()) {
  }
}

std::int64_t Statement::column_int(int index) const { return sqlite3_column_int64(_stmt, index); }

std::optional<std::int64_t> Statement::column_optional_int(int index) const {
  if (sqlite3_column_type(_stmt, index) == SQLITE_NULL) {
    return std::nullopt;
  }
  return sqlite3_column_int64(_stmt, index);
}

std::string Statement::column_text(int index) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(_stmt, index));
  return text ? std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(_stmt, index))) : std::string();
}

namespace {

/// A batch that runs again after a job threw runs each job in its own savepoint, and SQLite keeps
/// the pages a savepoint may have to restore in a sub-journal, which by default spills to a
/// temporary file past 64 KiB: when every batch ran that way, under a hold rush each one created,
/// wrote and unlinked one. In memory it holds one page image per page the job changes, and is
/// emptied when the job's savepoint is released; the setting is process-wide, so a statement
/// journal of any other transaction (a migration's large UPDATE, say) stays in memory too. It only
/// takes before SQLite initializes, so it is made once, before the first connection opens.
void keep_sub_journals_in_memory() {
  [[maybe_unused]] static const bool once = [] {
    if (const int rc = sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, -1); rc != SQLITE_OK) {
      // SQLite was initialized elsewhere first: only slower batches follow.
      spdlog::warn("sqlite: cannot keep sub-journals in memory: {}", sqlite3_errstr(rc));
    }
    return true;
  }();
}

}  // namespace

Database::Database(const std::string& path, LogWrites log_writes) {
  keep_sub_journals_in_memory();  // first: registering a VFS initializes SQLite
  const char* vfs = log_writes == LogWrites::Batched ? batched_wal_vfs() : nullptr;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
  if (const int rc = sqlite3_open_v2(path.c_str(), &_db, flags, vfs); rc != SQLITE_OK) {
    const std::string msg = _db ? sqlite3_errmsg(_db) : sqlite3_errstr(rc);
    sqlite3_close(_db);
    _db = nullptr;
    throw SqliteError(rc, "sqlite: cannot open " + path + ": " + msg);
  }
  sqlite3_busy_timeout(_db, 5000);
}

Database::~Database() {
  for (auto& [sql, prepared] : _cache) {
    sqlite3_finalize(prepared.stmt);
  }
  sqlite3_close(_db);
}

void Database::exec(std::string_view sql) {
  const std::string text(sql);
  char* err = nullptr;
  if (const int rc = sqlite3_exec(_db, text.c_str(), nullptr, nullptr, &err); rc != SQLITE_OK) {
    const std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw SqliteError(rc, "sqlite: " + msg);
  }
}

Statement Database::query(const char* sql) {
  auto it = _cache.find(sql);
  if (it == _cache.end()) {
    sqlite3_stmt* stmt = nullptr;
    _preparing_writes_watched_table = false;
    if (const int rc = sqlite3_prepare_v3(_db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr); rc != SQLITE_OK) {
      fail(_db, rc);
    }
    it = _cache.emplace(sql, Prepared{stmt, _preparing_writes_watched_table}).first;
  }
  return Statement(it->second.stmt, it->second.writes_watched_table ? &_watched_writes : nullptr);
}

void Database::watch_writes_to(std::string table) {
  CONCERTD_ASSERT(_cache.empty(), "the watch starts before the first statement is prepared");
  _watched_table = std::move(table);
  auto authorize = [](void* self, int action, const char* table_name, const char*, const char*, const char*) {
    auto& db = *static_cast<Database*>(self);
    if ((action == SQLITE_INSERT || action == SQLITE_UPDATE || action == SQLITE_DELETE) && table_name != nullptr &&
        db._watched_table == table_name) {
      db._preparing_writes_watched_table = true;
    }
    return SQLITE_OK;  // it only watches; every statement is allowed
  };
  sqlite3_set_authorizer(_db, authorize, this);
}

std::int64_t Database::changes() const { return sqlite3_changes64(_db); }

bool Database::in_transaction() const { return sqlite3_get_autocommit(_db) == 0; }

void Database::rollback_if_open() {
  if (in_transaction()) {
    exec("ROLLBACK");
  }
}

int Database::checkpoint_passive() {
  int log_frames = 0;
  int copied = 0;
  if (const int rc = sqlite3_wal_checkpoint_v2(_db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, &copied);
      rc != SQLITE_OK && rc != SQLITE_BUSY) {
    fail(_db, rc);
  }
  return log_frames - copied;
}

}  // namespace concertd::sqlite
