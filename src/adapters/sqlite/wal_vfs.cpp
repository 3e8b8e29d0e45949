#include "adapters/sqlite/wal_vfs.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <new>
#include <vector>

#include <sqlite3.h>

namespace concertd::sqlite {
namespace {

/// Past this, pending bytes are written at once: a batch of the writer's largest size logs a few
/// MiB, and the buffer keeps its capacity for the file's life.
constexpr std::size_t kMaxPending = std::size_t{8} << 20;

std::atomic<unsigned long long> g_writes{0};

sqlite3_vfs* real_vfs(sqlite3_vfs* vfs) { return static_cast<sqlite3_vfs*>(vfs->pAppData); }

/// A log file: the default VFS's file lives in the same allocation, right after this header.
struct LogFile {
  sqlite3_file base;  // first: SQLite sees a LogFile as a sqlite3_file
  sqlite3_file* real = nullptr;
  std::vector<char> pending;  // contiguous bytes not yet written, from offset pending_at
  sqlite3_int64 pending_at = 0;
};
constexpr std::size_t kRealFileOffset = (sizeof(LogFile) + 15) / 16 * 16;

LogFile* log_of(sqlite3_file* file) { return reinterpret_cast<LogFile*>(file); }

/// SQLite's unix VFS writes fewer than 128 KiB per call (it masks the length with 0x1ffff and
/// reports a longer write as a full disk): pending bytes go in pieces of 31 pages.
constexpr std::size_t kMaxWrite = 31 * 4096;

int flush(LogFile* log) {
  int rc = SQLITE_OK;
  for (std::size_t done = 0; done < log->pending.size() && rc == SQLITE_OK; done += kMaxWrite) {
    const std::size_t size = std::min(kMaxWrite, log->pending.size() - done);
    rc = log->real->pMethods->xWrite(log->real, log->pending.data() + done, static_cast<int>(size),
                                     log->pending_at + static_cast<sqlite3_int64>(done));
    g_writes.fetch_add(1, std::memory_order_relaxed);
  }
  log->pending.clear();  // written or failed: SQLite fails the transaction on the error either way
  return rc;
}

int log_close(sqlite3_file* file) {
  LogFile* log = log_of(file);
  const int flushed = flush(log);
  const int closed = log->real->pMethods->xClose(log->real);
  log->~LogFile();
  return flushed != SQLITE_OK ? flushed : closed;
}

int log_read(sqlite3_file* file, void* out, int amount, sqlite3_int64 offset) {
  LogFile* log = log_of(file);
  if (const int rc = flush(log); rc != SQLITE_OK) {
    return rc;
  }
  return log->real->pMethods->xRead(log->real, out, amount, offset);
}

int log_write(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  LogFile* log = log_of(file);
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
  try {
    const auto* bytes = static_cast<const char*>(data);
    log->pending.insert(log->pending.end(), bytes, bytes + size);
  } catch (const std::bad_alloc&) {
    return SQLITE_IOERR_NOMEM;
  }
  return SQLITE_OK;
}

int log_truncate(sqlite3_file* file, sqlite3_int64 size) {
  LogFile* log = log_of(file);
  if (const int rc = flush(log); rc != SQLITE_OK) {
    return rc;
  }
  return log->real->pMethods->xTruncate(log->real, size);
}

int log_sync(sqlite3_file* file, int flags) {
  LogFile* log = log_of(file);
  if (const int rc = flush(log); rc != SQLITE_OK) {
    return rc;
  }
  return log->real->pMethods->xSync(log->real, flags);
}

int log_file_size(sqlite3_file* file, sqlite3_int64* size) {
  LogFile* log = log_of(file);
  if (const int rc = flush(log); rc != SQLITE_OK) {
    return rc;
  }
  return log->real->pMethods->xFileSize(log->real, size);
}

int log_lock(sqlite3_file* file, int level) {
  sqlite3_file* real = log_of(file)->real;
  return real->pMethods->xLock(real, level);
}

int log_unlock(sqlite3_file* file, int level) {
  sqlite3_file* real = log_of(file)->real;
  return real->pMethods->xUnlock(real, level);
}

int log_check_reserved_lock(sqlite3_file* file, int* out) {
  sqlite3_file* real = log_of(file)->real;
  return real->pMethods->xCheckReservedLock(real, out);
}

int log_file_control(sqlite3_file* file, int op, void* arg) {
  LogFile* log = log_of(file);
  if (const int rc = flush(log); rc != SQLITE_OK) {
    return rc;
  }
  return log->real->pMethods->xFileControl(log->real, op, arg);
}

int log_sector_size(sqlite3_file* file) {
  sqlite3_file* real = log_of(file)->real;
  return real->pMethods->xSectorSize(real);
}

int log_device_characteristics(sqlite3_file* file) {
  sqlite3_file* real = log_of(file)->real;
  return real->pMethods->xDeviceCharacteristics(real);
}

/// Version 1: SQLite maps and shares memory through the database file only, never the log.
const sqlite3_io_methods kLogMethods = [] {
  sqlite3_io_methods m{};
  m.iVersion = 1;
  m.xClose = log_close;
  m.xRead = log_read;
  m.xWrite = log_write;
  m.xTruncate = log_truncate;
  m.xSync = log_sync;
  m.xFileSize = log_file_size;
  m.xLock = log_lock;
  m.xUnlock = log_unlock;
  m.xCheckReservedLock = log_check_reserved_lock;
  m.xFileControl = log_file_control;
  m.xSectorSize = log_sector_size;
  m.xDeviceCharacteristics = log_device_characteristics;
  return m;
}();

/// Log files get the LogFile wrapper; every other file is the default VFS's own, opened in place.
int vfs_open(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  sqlite3_vfs* real = real_vfs(vfs);
  if ((flags & SQLITE_OPEN_WAL) == 0) {
    return real->xOpen(real, name, file, flags, out_flags);
  }
  auto* log = new (file) LogFile{};
  log->base.pMethods = nullptr;  // until the real file is open: SQLite closes only opened files
  log->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(file) + kRealFileOffset);
  log->real->pMethods = nullptr;
  const int rc = real->xOpen(real, name, log->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (log->real->pMethods != nullptr) {
      log->real->pMethods->xClose(log->real);
    }
    log->~LogFile();
    file->pMethods = nullptr;
    return rc;
  }
  log->base.pMethods = &kLogMethods;
  return SQLITE_OK;
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

}  // namespace concertd::sqlite
