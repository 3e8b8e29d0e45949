#pragma once
// Checkpoints the WAL from its own connection and thread, so that the writer never stops to copy
// pages into the database file and fsync it: that stall, every 1,000 pages, was the writes' p99.
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "adapters/sqlite/sqlite_db.hpp"

namespace concertd::sqlite {

class Checkpointer {
 public:
  static constexpr std::chrono::milliseconds kInterval{100};
  explicit Checkpointer(std::unique_ptr<Database> db);

 private:
  void loop(const std::stop_token& stop);
  std::unique_ptr<Database> _db;
  std::mutex _mutex;
  std::condition_variable_any _wake;
  std::jthread _thread;  // last: stopped and joined before the connection closes
};

}  // namespace concertd::sqlite
