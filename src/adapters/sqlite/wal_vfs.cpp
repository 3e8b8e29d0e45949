#include "adapters/sqlite/wal_vfs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include <spdlog/spdlog.h>
#include <sqlite3.h>

namespace concertd::sqlite {
namespace {

/// Past this, pending bytes are written at once: a batch of the writer's largest size logs a few
/// MiB, and the buffer keeps its capacity for the file's life.
constexpr std::size_t kMaxPending = std::size_t{8} << 20;

std::atomic<unsigned long long> g_writes{0};

sqlite3_vfs* real_vfs(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }

struct DbFile;

/// A log file. Both wrappers start with the sqlite3_file SQLite sees, and the default VFS's own
/// file lives in the same allocation at kRealFileOffset (real_of).
struct LogFile {
  sqlite3_file base;
  DbFile* db = nullptr;       // its database file's wrapper; null: writes go through at once
  std::vector<char> pending;  // contiguous bytes not yet written, from offset pending_at
  sqlite3_int64 pending_at = 0;
  bool commit_page_next = false;  // the last write was the header of a commit frame
};

/// A main database file, wrapped to see the connection's shared-memory calls: SQLite publishes
/// frames through xShmBarrier and ends a write transaction by unlocking the log's write lock.
struct DbFile {
  sqlite3_file base;
  LogFile* log = nullptr;
};

constexpr std::size_t kRealFileOffset = (std::max(sizeof(LogFile), sizeof(DbFile)) + 15) / 16 * 16;

sqlite3_file* real_of(sqlite3_file* file) {
  return reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealFileOffset);
}

LogFile* log_of(sqlite3_file* file) { return reinterpret_cast<LogFile*>(file); }
DbFile* db_of(sqlite3_file* file) { return reinterpret_cast<DbFile*>(file); }

// Calls that either wrapper hands to the default VFS's file as they are.
int pass_read(sqlite3_file* f, void* out, int n, sqlite3_int64 off) {
  return real_of(f)->pMethods->xRead(real_of(f), out, n, off);
}
int pass_write(sqlite3_file* f, const void* data, int n, sqlite3_int64 off) {
  return real_of(f)->pMethods->xWrite(real_of(f), data, n, off);
}
int pass_truncate(sqlite3_file* f, sqlite3_int64 size) { return real_of(f)->pMethods->xTruncate(real_of(f), size); }
int pass_sync(sqlite3_file* f, int flags) { return real_of(f)->pMethods->xSync(real_of(f), flags); }
int pass_file_size(sqlite3_file* f, sqlite3_int64* size) { return real_of(f)->pMethods->xFileSize(real_of(f), size); }
int pass_lock(sqlite3_file* f, int level) { return real_of(f)->pMethods->xLock(real_of(f), level); }
int pass_unlock(sqlite3_file* f, int level) { return real_of(f)->pMethods->xUnlock(real_of(f), level); }
int pass_check_reserved_lock(sqlite3_file* f, int* out) {
  return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}
int pass_file_control(sqlite3_file* f, int op, void* arg) {
  return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}
int pass_sector_size(sqlite3_file* f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }
int pass_device_characteristics(sqlite3_file* f) { return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f)); }
int pass_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  return real_of(f)->pMethods->xShmMap(real_of(f), region, size, extend, out);
}
int pass_shm_unmap(sqlite3_file* f, int delete_flag) {
  return real_of(f)->pMethods->xShmUnmap(real_of(f), delete_flag);
}
int pass_fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
  return real_of(f)->pMethods->xFetch(real_of(f), off, n, out);
}
int pass_unfetch(sqlite3_file* f, sqlite3_int64 off, void* page) {
  return real_of(f)->pMethods->xUnfetch(real_of(f), off, page);
}

/// A method table of `version` whose calls all go to the default VFS's file as they are, but
/// xClose and (from version 2) xShmLock and xShmBarrier, which every wrapper of that version
/// must set: each wrapper's table then shows only what it changes.
sqlite3_io_methods pass_through(int version) {
  sqlite3_io_methods m{};
  m.iVersion = version;
  m.xRead = pass_read;
  m.xWrite = pass_write;
  m.xTruncate = pass_truncate;
  m.xSync = pass_sync;
  m.xFileSize = pass_file_size;
  m.xLock = pass_lock;
  m.xUnlock = pass_unlock;
  m.xCheckReservedLock = pass_check_reserved_lock;
  m.xFileControl = pass_file_control;
  m.xSectorSize = pass_sector_size;
  m.xDeviceCharacteristics = pass_device_characteristics;
  if (version >= 2) {
    m.xShmMap = pass_shm_map;
    m.xShmUnmap = pass_shm_unmap;
  }
  if (version >= 3) {
    m.xFetch = pass_fetch;
    m.xUnfetch = pass_unfetch;
  }
  return m;
}

/// A frame's header: bytes 4-7 hold the database's size in pages after the commit on the last
/// frame of a commit, zero on every other frame (SQLite's WAL format).
constexpr std::size_t kFrameHeaderSize = 24;
bool is_commit_frame_header(const char* header) {
  return header[4] != 0 || header[5] != 0 || header[6] != 0 || header[7] != 0;
}

/// SQLite's unix VFS writes fewer than 128 KiB per call (it masks the length with 0x1ffff and
/// reports a longer write as a full disk): pending bytes go in pieces of 31 pages.
constexpr std::size_t kMaxWrite = 31 * 4096;

int flush(LogFile* log) {
  int rc = SQLITE_OK;
  for (std::size_t done = 0; done < log->pending.size() && rc == SQLITE_OK; done += kMaxWrite) {
    const std::size_t size = std::min(kMaxWrite, log->pending.size() - done);
    rc = pass_write(&log->base, log->pending.data() + done, static_cast<int>(size),
                    log->pending_at + static_cast<sqlite3_int64>(done));
    g_writes.fetch_add(1, std::memory_order_relaxed);
  }
  log->pending.clear();  // written or failed: SQLite fails the transaction on the error either way
  return rc;
}

int log_close(sqlite3_file* file) {
  LogFile* log = log_of(file);
  if (log->db != nullptr) {
    log->db->log = nullptr;
  }
  const int flushed = flush(log);
  const int closed = real_of(file)->pMethods->xClose(real_of(file));
  log->~LogFile();
  return flushed != SQLITE_OK ? flushed : closed;
}

int log_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  LogFile* log = log_of(file);
  if (const int rc = flush(log); rc != SQLITE_OK) {
    return rc;
  }
  return pass_read(file, out, amount, offset);
}

int log_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  LogFile* log = log_of(file);
  if (log->db == nullptr) {  // nobody would tell it when a transaction ends
    return pass_write(file, data, amount, offset);
  }
  const auto size = static_cast<std::size_t>(amount);
  const bool follows = offset == log->pending_at + static_cast<sqlite3_int64>(log->pending.size());
  if (!log->pending.empty() && (!follows || log->pending.size() + size > kMaxPending)) {
    if (const int rc = flush(log); rc != SQLITE_OK) {
      return rc;
    }
  }
  if (log->pending.empty()) {
    log->pending_at = offset;
  }
  const auto* bytes = static_cast<const char*>(data);
  try {
    log->pending.insert(log->pending.end(), bytes, bytes + size);
  } catch (const std::bad_alloc&) {
    return SQLITE_IOERR_NOMEM;
  }
  // A commit's last frame goes to the file with its page, whatever the sync setting: an error
  // then fails the commit (xWrite), and nothing of a commit waits for the barrier below.
  const bool commit_page = log->commit_page_next;
  log->commit_page_next = size == kFrameHeaderSize && is_commit_frame_header(bytes);
  return commit_page ? flush(log) : SQLITE_OK;
}

int log_truncate(sqlite3_file* file, sqlite3_int64 size) {
  LogFile* log = log_of(file);
  if (const int rc = flush(log); rc != SQLITE_OK) {
    return rc;
  }
  return pass_truncate(file, size);
}

int log_sync(sqlite3_file* file, int flags) {
  LogFile* log = log_of(file);
  if (const int rc = flush(log); rc != SQLITE_OK) {
    return rc;
  }
  return pass_sync(file, flags);
}

int log_file_size(sqlite3_file* file, sqlite3_int64* size) {
  LogFile* log = log_of(file);
  if (const int rc = flush(log); rc != SQLITE_OK) {
    return rc;
  }
  return pass_file_size(file, size);
}

int log_file_control(sqlite3_file* file, int op, void* arg) {
  LogFile* log = log_of(file);
  if (const int rc = flush(log); rc != SQLITE_OK) {
    return rc;
  }
  return pass_file_control(file, op, arg);
}

/// Version 1: SQLite maps and shares memory through the database file only, never the log.
const sqlite3_io_methods kLogMethods = [] {
  sqlite3_io_methods m = pass_through(1);
  m.xClose = log_close;
  m.xRead = log_read;
  m.xWrite = log_write;
  m.xTruncate = log_truncate;
  m.xSync = log_sync;
  m.xFileSize = log_file_size;
  m.xFileControl = log_file_control;
  return m;
}();

int db_close(sqlite3_file* file) {
  DbFile* db = db_of(file);
  if (db->log != nullptr) {
    db->log->db = nullptr;
  }
  const int rc = real_of(file)->pMethods->xClose(real_of(file));
  db->~DbFile();
  return rc;
}

/// Frames become visible to other connections when SQLite writes the log's index header, around
/// this barrier. A commit's frames were written with its last frame, so nothing should be pending
/// here; should anything be, it goes to the file first. A failure here cannot be reported, and
/// going on would publish frames that are not in the file.
void db_shm_barrier(sqlite3_file* file) {
  DbFile* db = db_of(file);
  if (db->log != nullptr && flush(db->log) != SQLITE_OK) {
    std::abort();
  }
  real_of(file)->pMethods->xShmBarrier(real_of(file));
}

/// Releasing the log's write lock (slot 0) ends a write transaction. A commit's frames were
/// written with its last frame; bytes still pending are a rolled-back transaction's, which
/// nobody reads, and must not be written later over frames another connection commits meanwhile.
int db_shm_lock(sqlite3_file* file, int offset, int n, int flags) {
  DbFile* db = db_of(file);
  if (db->log != nullptr && (flags & SQLITE_SHM_UNLOCK) != 0 && offset == 0 && n > 0) {
    db->log->pending.clear();
  }
  return real_of(file)->pMethods->xShmLock(real_of(file), offset, n, flags);
}

const sqlite3_io_methods kDbMethods = [] {
  sqlite3_io_methods m = pass_through(3);
  m.xClose = db_close;
  m.xShmLock = db_shm_lock;
  m.xShmBarrier = db_shm_barrier;
  return m;
}();

/// Opens the default VFS's file behind `wrapper` (placed at `file`); on failure nothing is left
/// open and SQLite is told not to close it.
template <class Wrapper>
int open_wrapped(sqlite3_vfs* real, const char* name, sqlite3_file* file, int flags, int* out_flags,
                 const sqlite3_io_methods* methods) {
  auto* wrapper = new (file) Wrapper{};
  wrapper->base.pMethods = nullptr;  // until the real file is open: SQLite closes only opened files
  sqlite3_file* inner = real_of(file);
  inner->pMethods = nullptr;
  const int rc = real->xOpen(real, name, inner, flags, out_flags);
  if (rc != SQLITE_OK || inner->pMethods == nullptr || (methods == &kDbMethods && inner->pMethods->iVersion < 3)) {
    if (inner->pMethods != nullptr) {
      inner->pMethods->xClose(inner);
    }
    wrapper->~Wrapper();
    file->pMethods = nullptr;
    return rc != SQLITE_OK ? rc : SQLITE_CANTOPEN;
  }
  wrapper->base.pMethods = methods;
  return SQLITE_OK;
}

/// Database and log files are wrapped (the log's writes gathered, the database's shared-memory
/// calls watched); every other file is the default VFS's own, opened in place.
int vfs_open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  sqlite3_vfs* real = real_vfs(vfs);
  if ((flags & SQLITE_OPEN_MAIN_DB) != 0) {
    return open_wrapped<DbFile>(real, name, file, flags, out_flags, &kDbMethods);
  }
  if ((flags & SQLITE_OPEN_WAL) == 0) {
    return real->xOpen(real, name, file, flags, out_flags);
  }
  const int rc = open_wrapped<LogFile>(real, name, file, flags, out_flags, &kLogMethods);
  if (sqlite3_file* db = rc == SQLITE_OK ? sqlite3_database_file_object(name) : nullptr;
      db != nullptr && db->pMethods == &kDbMethods) {
    log_of(file)->db = db_of(db);
    db_of(db)->log = log_of(file);
  }
  return rc;
}

int vfs_delete(sqlite3_vfs* vfs, const char* name, int sync_dir) {
  return real_vfs(vfs)->xDelete(real_vfs(vfs), name, sync_dir);
}
int vfs_access(sqlite3_vfs* vfs, const char* name, int flags, int* out) {
  return real_vfs(vfs)->xAccess(real_vfs(vfs), name, flags, out);
}
int vfs_full_pathname(sqlite3_vfs* vfs, const char* name, int size, char* out) {
  return real_vfs(vfs)->xFullPathname(real_vfs(vfs), name, size, out);
}
void* vfs_dl_open(sqlite3_vfs* vfs, const char* name) { return real_vfs(vfs)->xDlOpen(real_vfs(vfs), name); }
void vfs_dl_error(sqlite3_vfs* vfs, int size, char* out) { real_vfs(vfs)->xDlError(real_vfs(vfs), size, out); }
void (*vfs_dl_sym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  return real_vfs(vfs)->xDlSym(real_vfs(vfs), handle, symbol);
}
void vfs_dl_close(sqlite3_vfs* vfs, void* handle) { real_vfs(vfs)->xDlClose(real_vfs(vfs), handle); }
int vfs_randomness(sqlite3_vfs* vfs, int size, char* out) {
  return real_vfs(vfs)->xRandomness(real_vfs(vfs), size, out);
}
int vfs_sleep(sqlite3_vfs* vfs, int micros) { return real_vfs(vfs)->xSleep(real_vfs(vfs), micros); }
int vfs_current_time(sqlite3_vfs* vfs, double* out) { return real_vfs(vfs)->xCurrentTime(real_vfs(vfs), out); }
int vfs_get_last_error(sqlite3_vfs* vfs, int size, char* out) {
  return real_vfs(vfs)->xGetLastError(real_vfs(vfs), size, out);
}
int vfs_current_time_int64(sqlite3_vfs* vfs, sqlite3_int64* out) {
  return real_vfs(vfs)->xCurrentTimeInt64(real_vfs(vfs), out);
}

}  // namespace

const char* batched_wal_vfs() {
  static const char* const name = [] {
    static sqlite3_vfs vfs{};
    sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
    vfs.iVersion = 2;
    vfs.szOsFile = static_cast<int>(kRealFileOffset) + real->szOsFile;
    vfs.mxPathname = real->mxPathname;
    vfs.zName = "concertd-batched-wal";
    vfs.pAppData = real;
    vfs.xOpen = vfs_open;
    vfs.xDelete = vfs_delete;
    vfs.xAccess = vfs_access;
    vfs.xFullPathname = vfs_full_pathname;
    vfs.xDlOpen = vfs_dl_open;
    vfs.xDlError = vfs_dl_error;
    vfs.xDlSym = vfs_dl_sym;
    vfs.xDlClose = vfs_dl_close;
    vfs.xRandomness = vfs_randomness;
    vfs.xSleep = vfs_sleep;
    vfs.xCurrentTime = vfs_current_time;
    vfs.xGetLastError = vfs_get_last_error;
    vfs.xCurrentTimeInt64 = vfs_current_time_int64;
    sqlite3_vfs_register(&vfs, 0);
    return vfs.zName;
  }();
  return name;
}

unsigned long long batched_wal_writes() { return g_writes.load(std::memory_order_relaxed); }

/// Writes zeros from the end of the WAL to the size it reaches at its bound, so that commits
/// overwrite blocks the file already has instead of appending. An fdatasync after an append must
/// also commit the file's new size and blocks to the ext4 journal: here 0.29 ms median against
/// 0.12 ms for an overwrite (96 KiB writes), with the journal's stalls in its tail; and with the
/// checkpointer running, SQLite only starts the log again at its bound, so a fresh server spent
/// its first 64 MiB of writes appending. Zeros past the log's valid frames are no frames to
/// SQLite: recovery stops at the first frame whose salt or checksum fails, and SQLite truncates
/// the log only when journal_size_limit is set (it is not).
///
/// Runs inside a write transaction of the writer's connection, so that no connection of this or
/// another process appends to or restarts the log between the size read here and the zeros.
/// (Closing this descriptor drops none of SQLite's locks: SQLite locks the database and -shm
/// files, never the -wal.) A failed open, write or sync costs speed only: the log then grows as it
/// did before.
void preallocate_wal(Database& writer, const std::string& wal_path) {
  auto page_size = writer.query("PRAGMA page_size");
  page_size.step();
  const std::int64_t target = 32 + kWalAutocheckpointPages * (page_size.column_int(0) + 24);
  writer.exec("BEGIN IMMEDIATE");
  int error = 0;
  if (const int fd = ::open(wal_path.c_str(), O_WRONLY | O_CLOEXEC); fd < 0) {
    error = errno;
  } else {
    const std::vector<char> zeros(std::size_t{1} << 20, 0);  // freed once the log is written
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      error = errno;
    }
    for (std::int64_t at = st.st_size; error == 0 && at < target;) {
      const auto n =
          static_cast<std::size_t>(std::min<std::int64_t>(target - at, static_cast<std::int64_t>(zeros.size())));
      const ssize_t written = ::pwrite(fd, zeros.data(), n, at);
      if (written < 0 && errno == EINTR) {
        continue;
      }
      if (written <= 0) {
        error = written < 0 ? errno : EIO;
      } else {
        at += written;
      }
    }
    if (error == 0 && ::fdatasync(fd) != 0) {
      error = errno;
    }
    ::close(fd);
  }
  writer.exec("ROLLBACK");
  if (error != 0) {
    spdlog::warn("sqlite: preallocating {} failed: {}", wal_path, std::strerror(error));
  }
}

}  // namespace concertd::sqlite
