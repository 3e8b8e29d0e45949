#pragma once
// Diagrams 5 and 6: prepaid balance. Reads are cached; every completed write refreshes the
// cache, so the next read anywhere sees it.
#include <optional>

#include "ports/clock.hpp"
#include "ports/coordinator.hpp"
#include "ports/store.hpp"

namespace concertd {

class BalanceService {
 public:
  static constexpr Seconds kCacheTtl{60};

  BalanceService(Store& store, Coordinator& coordinator, const Clock& clock)
      : _store(store), _coordinator(coordinator), _clock(clock) {}

  Task<BalanceView> get(const std::string& user_id);
  /// 400 INVALID_AMOUNT outside 10,000..1,000,000; 400 BALANCE_LIMIT_EXCEEDED past the cap.
  /// A repeat of a recorded idempotency key comes back as the recorded receipt.
  Task<ChargeReceipt> charge(const std::string& user_id, Money amount, std::optional<IdempotencyStamp> stamp);
  Task<ChargeReceipt> recorded_charge(const std::string& transaction_id);
  /// Called after any committed change of the user's balance.
  Task<void> remember(const std::string& user_id, Money balance, Timestamp updated_at);
  /// remember(), for callers whose change is committed: an unreachable coordinator is logged,
  /// not thrown (the request succeeded; the older cache entry lapses after kCacheTtl).
  Task<void> remember_after_commit(const std::string& user_id, Money balance, Timestamp updated_at);

 private:
  Store& _store;
  Coordinator& _coordinator;
  const Clock& _clock;
};

}  // namespace concertd
