#pragma once
// A thin RAII layer over the SQLite C API: one connection, cached prepared statements, bound
// parameters only (no SQL is ever built from input).
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace concertd::sqlite {

class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& what) : std::runtime_error(what), _code(code) {}
  int code() const { return _code; }

 private:
  int _code;
};

class Statement {
 public:
  /// `watched_writes`: bumped at each step, when the statement writes the watched table.
  explicit Statement(sqlite3_stmt* stmt, std::uint64_t* watched_writes = nullptr)
      : _stmt(stmt), _watched_writes(watched_writes) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();  // resets, so a cached statement is ready for its next use

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, std::nullopt_t);
  Statement& bind(int index, const std::optional<std::int64_t>& value);
  /// Steps once: true while a row is available.
  bool step();
  /// Steps to completion, for statements that return no rows.
  void run();
  std::int64_t column_int(int index) const;
  std::optional<std::int64_t> column_optional_int(int index) const;
  std::string column_text(int index) const;

 private:
  sqlite3_stmt* _stmt;
  std::uint64_t* _watched_writes;
};

/// How a connection's WAL writes reach the file: as SQLite issues them, or gathered into one call
/// per commit (wal_vfs.hpp).
enum class LogWrites { Direct, Batched };

class Database {
 public:
  explicit Database(const std::string& path, LogWrites log_writes = LogWrites::Direct);
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

  void exec(std::string_view sql);
  /// Prepared once per connection and reused; the returned object resets it when destroyed.
  Statement query(const char* sql);
  std::int64_t changes() const;
  /// From now on, statements prepared on this connection that insert, update or delete rows of
  /// `table` are known as such (SQLite's authorizer tells it while preparing), and each of their
  /// steps counts in watched_writes(): a cache of that table learns of every write without the
  /// code that writes having to say so. Call before preparing any statement.
  void watch_writes_to(std::string table);
  /// Steps of statements that write the watched table, since the connection opened; a statement
  /// run and undone still counts (the count may only err towards "changed").
  std::uint64_t watched_writes() const { return _watched_writes; }
  /// False once SQLite has ended the transaction, by COMMIT, ROLLBACK or on its own (some errors,
  /// such as a full disk or an I/O error, roll the whole transaction back).
  bool in_transaction() const;
  /// ROLLBACK of the open transaction; nothing when SQLite has ended it already, so that a failing
  /// ROLLBACK's message never replaces the error that ended it.
  void rollback_if_open();
  /// Copies committed WAL frames into the database file without waiting for or blocking any
  /// reader or writer (SQLITE_CHECKPOINT_PASSIVE). Returns the frames still in the log.
  int checkpoint_passive();

 private:
  struct Prepared {
    sqlite3_stmt* stmt;
    bool writes_watched_table;
  };
  sqlite3* _db = nullptr;
  std::unordered_map<const char*, Prepared> _cache;  // keyed by the SQL constant's address
  std::string _watched_table;
  bool _preparing_writes_watched_table = false;  // set by the authorizer during a prepare
  std::uint64_t _watched_writes = 0;
};

}  // namespace concertd::sqlite
