#pragma once
// Diagrams 5 and 6: prepaid balance. Every read sees every completed write (see get()).
#include <optional>

#include "ports/clock.hpp"
#include "ports/store.hpp"

namespace concertd {

class BalanceService {
 public:
  BalanceService(Store& store, const Clock& clock) : _store(store), _clock(clock) {}

  Task<BalanceView> get(const std::string& user_id);
  /// 400 INVALID_AMOUNT outside 10,000..1,000,000; 400 BALANCE_LIMIT_EXCEEDED past the cap.
  /// A repeat of a recorded idempotency key comes back as the recorded receipt.
  Task<ChargeReceipt> charge(const std::string& user_id, Money amount, std::optional<IdempotencyStamp> stamp);
  Task<ChargeReceipt> recorded_charge(const std::string& transaction_id);

 private:
  Store& _store;
  const Clock& _clock;
};

}  // namespace concertd
