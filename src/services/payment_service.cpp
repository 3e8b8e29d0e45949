#include "services/payment_service.hpp"

#include <spdlog/spdlog.h>

#include "domain/errors.hpp"
#include "domain/random.hpp"

namespace concertd {

Task<PaymentReceipt> PaymentService::recorded_payment(const std::string& payment_id) {
  auto receipt = co_await _store.payment_receipt(payment_id);
  if (!receipt) {
    throw Unavailable("recorded payment not found");
  }
  co_return std::move(*receipt);
}

Task<PaymentReceipt> PaymentService::pay(const TokenView& token, const std::string& reservation_id,
                                         std::optional<IdempotencyStamp> stamp) {
  const Timestamp now = _clock.now();
  // Named first: GCC 12 destroys a temporary argument of a co_awaited call twice.
  PaymentRequest request{reservation_id, token.user_id, random_id("pay-", now), token.id, now, std::move(stamp)};
  PaymentOutcome outcome = co_await _store.pay(std::move(request));
  switch (outcome.kind) {
    case PaymentOutcome::Kind::Paid:
      /// Committed: the answer is the receipt. An unreachable coordinator now must not turn the
      /// payment into a 503 (which promises that nothing changed); the token then stays active
      /// in the coordinator until its activeUntil (the store has it spent already).
      try {
        co_await _coordinator.spend(token.id, now);
      } catch (const Unavailable& e) {
        spdlog::warn("payment {} committed, token not marked spent in the coordinator: {}", outcome.receipt.payment_id,
                     e.what());
      }
      co_return outcome.receipt;
    case PaymentOutcome::Kind::InvalidReservation:
      throw ClientError(Refusal::InvalidReservation);
    case PaymentOutcome::Kind::InsufficientBalance:
      throw ClientError(Refusal::InsufficientBalance,
                        {{"currentBalance", outcome.current_balance}, {"requiredAmount", outcome.required_amount}});
    case PaymentOutcome::Kind::DuplicateKey:
      break;
  }
  throw ClientError(Refusal::IdempotencyKeyInUse);
}

}  // namespace concertd
