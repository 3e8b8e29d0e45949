#include "services/balance_service.hpp"

#include "domain/errors.hpp"
#include "domain/random.hpp"
#include "domain/validation.hpp"

namespace concertd {
/// Not cached. The diagram caches balances for a minute, and the contract wants every completed
/// write visible to the next read on every instance. Several ways of keeping such a cache exact
/// were tried and each fails under concurrent writers on PostgreSQL plus a crash between a
/// commit and the cache update (found by the chaos tests), so reads go to the store, whose
/// read path (SQLite reader thread, PostgreSQL pool) is cheap for this endpoint.
Task<BalanceView> BalanceService::get(const std::string& user_id) { co_return co_await _store.balance(user_id); }

Task<ChargeReceipt> BalanceService::recorded_charge(const std::string& transaction_id) {
  auto receipt = co_await _store.charge_receipt(transaction_id);
  if (!receipt) {
    throw Unavailable("recorded charge not found");
  }
  co_return std::move(*receipt);
}

Task<ChargeReceipt> BalanceService::charge(const std::string& user_id, Money amount,
                                           std::optional<IdempotencyStamp> stamp) {
  if (!is_valid_charge_amount(amount)) {
    throw ClientError(Refusal::InvalidAmount);
  }
  const Timestamp now = _clock.now();
  // Named first: GCC 12 destroys a temporary argument of a co_awaited call twice.
  ChargeRequest request{user_id, amount, kBalanceCap, random_id("txn-", now), now, std::move(stamp)};
  ChargeOutcome outcome = co_await _store.charge(std::move(request));
  switch (outcome.kind) {
    case ChargeOutcome::Kind::Charged:
      co_return outcome.receipt;
    case ChargeOutcome::Kind::BalanceLimitExceeded:
      throw ClientError(Refusal::BalanceLimitExceeded);
    case ChargeOutcome::Kind::DuplicateKey:
      break;
  }
  throw ClientError(Refusal::IdempotencyKeyInUse);
}

}  // namespace concertd
