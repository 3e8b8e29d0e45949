#include "services/expiry_service.hpp"

namespace concertd {

Task<std::size_t> ExpiryService::run_once() {
  std::size_t total = 0;
  for (int round = 0; round < kMaxBatchesPerRun; ++round) {
    const auto released = co_await _store.release_expired(_clock.now(), kBatch);
    total += released.size();
    if (released.size() < static_cast<std::size_t>(kBatch)) {
      break;
    }
  }
  co_return total;
}

}  // namespace concertd
