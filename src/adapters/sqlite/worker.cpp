#include "adapters/sqlite/worker.hpp"

#include <spdlog/spdlog.h>

#include "domain/errors.hpp"

namespace concertd::sqlite {

Worker::Worker(std::unique_ptr<Database> db, bool writes) : _db(std::move(db)), _writes(writes) {
  _thread = std::thread([this] { loop(); });
}

Worker::~Worker() {
  {
    std::lock_guard lock(_mutex);
    _stopping = true;
  }
  _wake.notify_one();
  _thread.join();
}

bool Worker::submit(Job job) {
  {
    std::lock_guard lock(_mutex);
    if (_queue.size() >= kMaxQueuedJobs || _stopping) {
      return false;
    }
    _queue.push_back(std::move(job));
  }
  _wake.notify_one();
  return true;
}

void Worker::loop() {
  std::vector<Job> batch;
  batch.reserve(kMaxBatch);
  for (;;) {
    {
      std::unique_lock lock(_mutex);
      _wake.wait(lock, [this] { return _stopping || !_queue.empty(); });
      if (_queue.empty()) {
        return;  // stopping, and everything queued has been answered
      }
      while (!_queue.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(_queue.front()));
        _queue.pop_front();
      }
    }
    run_batch(batch);
    batch.clear();
  }
}

void Worker::run_batch(std::vector<Job>& batch) {
  std::vector<std::exception_ptr> errors(batch.size());
  std::exception_ptr batch_error;
  try {
    if (!run_together(batch, errors)) {
      run_apart(batch, errors);
    }
  } catch (const std::exception& e) {
    spdlog::error("sqlite batch of {} failed: {}", batch.size(), e.what());
    batch_error = std::make_exception_ptr(Unavailable(e.what()));
  } catch (...) {  // a job's own exception type, rethrown after SQLite ended the transaction
    spdlog::error("sqlite batch of {} failed", batch.size());
    batch_error = std::make_exception_ptr(Unavailable("storage batch failed"));
  }
  if (batch_error) {
    try {
      _db->rollback_if_open();
    } catch (const std::exception& rollback_error) {
      /// Nothing was committed either way; the next BEGIN tells whether the connection lives.
      spdlog::error("sqlite rollback failed: {}", rollback_error.what());
    }
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    batch[i].done(batch_error ? batch_error : errors[i]);
  }
}

/// The jobs back to back in one transaction: the usual case. A savepoint around every job cost
/// the writer a fifth of its time per hold (two statements, and each job's first change to a page
/// copied the page into the savepoint's journal), to undo a job that almost never fails. False,
/// with nothing committed, when a job of several threw: the batch must run apart.
bool Worker::run_together(std::vector<Job>& batch, std::vector<std::exception_ptr>& errors) {
  _db->query(_writes ? "BEGIN IMMEDIATE" : "BEGIN").run();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    try {
      batch[i].run(*_db);
    } catch (...) {
      _db->rollback_if_open();
      if (batch.size() > 1) {
        return false;
      }
      errors[0] = std::current_exception();
      return true;
    }
  }
  _db->query("COMMIT").run();
  return true;
}

/// Every job in a savepoint of its own: a job that throws is undone and fails alone, the others
/// keep their work and commit.
void Worker::run_apart(std::vector<Job>& batch, std::vector<std::exception_ptr>& errors) {
  // Prepared once and reused: sqlite3_exec parsed these again for every job.
  _db->query(_writes ? "BEGIN IMMEDIATE" : "BEGIN").run();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    _db->query("SAVEPOINT job").run();
    try {
      batch[i].run(*_db);
      _db->query("RELEASE job").run();
    } catch (...) {
      if (!_db->in_transaction()) {
        throw;  // SQLite rolled the whole batch back (a full disk, an I/O error): it fails whole
      }
      errors[i] = std::current_exception();
      _db->query("ROLLBACK TO job").run();
      _db->query("RELEASE job").run();
    }
  }
  _db->query("COMMIT").run();
}

}  // namespace concertd::sqlite
