#pragma once
// Diagram 8: the release job. Expiry already counts at once everywhere (every read and write
// compares with now); this job only makes storage catch up, within a second.
#include "ports/clock.hpp"
#include "ports/store.hpp"

namespace concertd {

class ExpiryService {
 public:
  static constexpr int kBatch = 500;
  static constexpr int kMaxBatchesPerRun = 20;

  ExpiryService(Store& store, const Clock& clock) : _store(store), _clock(clock) {}

  /// Releases what is due, in bounded batches; returns how many holds were released.
  Task<std::size_t> run_once();

 private:
  Store& _store;
  const Clock& _clock;
};

}  // namespace concertd
