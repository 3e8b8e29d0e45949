#pragma once
// Opening the file: the writer's connection (schema migrated, WAL mode, its log writes batched
// and preallocated) and the others' (readers, the checkpointer).
#include <memory>
#include <string>

#include "adapters/sqlite/sqlite_db.hpp"

namespace concertd::sqlite {

/// The table whose writes make cached seat maps stale; the writer's connection counts them
/// (Database::watched_writes).
inline constexpr const char* kSeatsTable = "seats";

/// The store's file in the data directory.
inline constexpr const char* kFileName = "concertd.db";

/// The one connection that writes. `path` is a file, or ":memory:" for tests.
std::unique_ptr<Database> open_writer(const std::string& path);
/// A connection that reads, or checkpoints; not for ":memory:" (a second one would see another database).
std::unique_ptr<Database> open_reader(const std::string& path);
/// A consistent copy of the file at `path` into `target` (which must not exist), taken in one read
/// transaction while writers go on (VACUUM INTO: the copy is also compacted). Throws
/// std::runtime_error naming the cause.
void copy_database(const std::string& path, const std::string& target);

}  // namespace concertd::sqlite
