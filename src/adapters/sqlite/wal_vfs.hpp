#pragma once
// SQLite writes a WAL frame as two system calls (its 24-byte header, then the page), so a commit
// of a hold batch made ~160 pwrite calls, 30% of the writer thread's time. This VFS wraps the
// default one and gathers a log file's contiguous writes in memory, then writes them with one
// call (or a few) when SQLite syncs the log, reads it, asks its size, writes elsewhere in it, or
// publishes frames to other connections (the shared-memory barrier around the log index header).
// A commit's frames reach the file by the time its last frame is written, before SQLite syncs or
// tells other connections of them; what is written, and when it is synced, do not change, only
// the number of calls. Bytes still pending when the transaction releases the log's write lock
// belong to a rolled-back transaction (spilled pages) and are dropped: written later, they could
// land over frames that another connection committed in between. Not for locking_mode =
// EXCLUSIVE, where SQLite takes no shared-memory locks and the drop never happens.

#include <string>

#include "adapters/sqlite/sqlite_db.hpp"

namespace concertd::sqlite {

/// The VFS's name for sqlite3_open_v2 (registered on first use; never the default VFS). SQLite is
/// initialized by then: process-wide sqlite3_config calls must come first (Database does them).
const char* batched_wal_vfs();

/// The WAL's bound (wal_autocheckpoint): past it the writer checkpoints, and the next transaction
/// usually starts the log again from its first frame (when the checkpoint copied every frame back
/// and no reader still reads one).
constexpr int kWalAutocheckpointPages = 16384;

/// Zeros from the end of the WAL at `wal_path` to the size it reaches at its bound (see the .cpp
/// for why). Runs inside a write transaction of `writer`; a failure costs speed only and is logged.
void preallocate_wal(Database& writer, const std::string& wal_path);

/// Writes the VFS has sent to log files since the process started (for tests).
unsigned long long batched_wal_writes();

}  // namespace concertd::sqlite
