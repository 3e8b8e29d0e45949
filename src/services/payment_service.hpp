#pragma once
// Diagram 7: payment in one store transaction, then the token is spent.
#include <optional>

#include "ports/clock.hpp"
#include "ports/coordinator.hpp"
#include "ports/store.hpp"

namespace concertd {

class PaymentService {
 public:
  PaymentService(Store& store, Coordinator& coordinator, const Clock& clock)
      : _store(store), _coordinator(coordinator), _clock(clock) {}

  Task<PaymentReceipt> pay(const TokenView& token, const std::string& reservation_id,
                           std::optional<IdempotencyStamp> stamp);
  Task<PaymentReceipt> recorded_payment(const std::string& payment_id);

 private:
  Store& _store;
  Coordinator& _coordinator;
  const Clock& _clock;
};

}  // namespace concertd
