#pragma once
// SQLite writes a WAL frame as two system calls (its 24-byte header, then the page), so a commit
// of a hold batch made ~160 pwrite calls, 30% of the writer thread's time. This VFS wraps the
// default one and gathers a log file's contiguous writes in memory, then writes them with one
// call when SQLite syncs the log, reads it, asks its size or writes elsewhere in it: what reaches
// the file and when it is synced do not change, only the number of calls.
//
// Only for connections with synchronous = FULL (or EXTRA): SQLite syncs the log before a commit
// becomes visible to other connections only then. With NORMAL, other connections could be told of
// frames still in this buffer.

namespace concertd::sqlite {

/// The VFS's name for sqlite3_open_v2 (registered on first use; never the default VFS). SQLite is
/// initialized by then: process-wide sqlite3_config calls must come first (Database does them).
const char* batched_wal_vfs();

/// Writes the VFS has sent to log files since the process started (for tests).
unsigned long long batched_wal_writes();

}  // namespace concertd::sqlite
