#include "adapters/sqlite/checkpointer.hpp"

#include <spdlog/spdlog.h>

namespace concertd::sqlite {

Checkpointer::Checkpointer(std::unique_ptr<Database> db)
    : _db(std::move(db)), _thread([this](const std::stop_token& stop) { loop(stop); }) {}

void Checkpointer::loop(const std::stop_token& stop) {
  std::unique_lock lock(_mutex);  // only this thread takes it: the wait needs one
  for (;;) {
    _wake.wait_for(lock, stop, kInterval, [] { return false; });  // wakes early only to stop
    if (stop.stop_requested()) {
      return;
    }
    try {
      _db->checkpoint_passive();
    } catch (const std::exception& e) {
      spdlog::warn("sqlite checkpoint failed (the writer's own checkpoint still bounds the log): {}", e.what());
    }
  }
}

}  // namespace concertd::sqlite
