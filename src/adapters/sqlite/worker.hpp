#pragma once
// One SQLite connection and the thread that owns it. Jobs that queue up while a batch runs become
// the next batch, run in one transaction: many holds per fsync, each answered only after the
// COMMIT. No SQLite call ever runs on an I/O thread.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "adapters/sqlite/sqlite_db.hpp"

namespace concertd::sqlite {

class Worker {
 public:
  struct Job {
    /// May run more than once: when another job of its batch throws, the whole transaction is
    /// undone and every job runs again. Each run must start from scratch and touch nothing but
    /// the database and state it resets first.
    std::function<void(Database&)> run;
    std::function<void(std::exception_ptr)> done;  // called on the worker thread after the commit
  };

  static constexpr std::size_t kMaxQueuedJobs = 65'536;
  static constexpr std::size_t kMaxBatch = 512;

  /// `writes`: batches open with BEGIN IMMEDIATE (take the write lock) instead of BEGIN.
  Worker(std::unique_ptr<Database> db, bool writes);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  /// Answers everything queued, then stops.
  ~Worker();
  /// False when the queue is full (the caller answers 503 rather than queueing without bound).
  bool submit(Job job);

 private:
  void loop();
  void run_batch(std::vector<Job>& batch);
  bool run_together(std::vector<Job>& batch, std::vector<std::exception_ptr>& errors);
  void run_apart(std::vector<Job>& batch, std::vector<std::exception_ptr>& errors);

  std::unique_ptr<Database> _db;
  bool _writes;
  std::mutex _mutex;
  std::condition_variable _wake;
  std::deque<Job> _queue;
  bool _stopping = false;
  std::thread _thread;
};

}  // namespace concertd::sqlite
