#pragma once
// The contract's idempotency keys: a key belongs to one user and one endpoint; only a completed
// success is recorded (by the store, in the money's own transaction); a key in flight is 409.
#include <exception>
#include <optional>
#include <string>

#include "ports/clock.hpp"
#include "ports/coordinator.hpp"
#include "ports/store.hpp"

namespace concertd {

class IdempotencyKeys {
 public:
  /// How long a key stays claimed if its holder never lets go (a crashed instance): longer than
  /// any request may take (the stores give up on a statement after kStoreStatementTimeout),
  /// short enough that a client retrying after a crash is not kept waiting long.
  static constexpr Millis kClaimTtl{15'000};
  static_assert(kClaimTtl > kStoreStatementTimeout, "a claim outlives the store operation it guards");

  IdempotencyKeys(Store& store, Coordinator& coordinator, const Clock& clock)
      : _store(store), _coordinator(coordinator), _clock(clock) {}

  /// Claims the key for this request: 409 IDEMPOTENCY_KEY_IN_USE when another holds it. Returns
  /// the recorded success to replay, if any (after which the claim is already released); 422
  /// IDEMPOTENCY_KEY_REUSED when the key was used with another body or endpoint.
  Task<std::optional<std::string>> claim(const std::string& user_id, const IdempotencyStamp& stamp);
  Task<void> release(const std::string& user_id, const IdempotencyStamp& stamp);
  /// Looks up the record again after the store refused a duplicate key (another instance won).
  Task<std::string> recorded_ref(const std::string& user_id, const IdempotencyStamp& stamp);

 private:
  static std::string scope(const std::string& user_id, const IdempotencyStamp& stamp);
  Store& _store;
  Coordinator& _coordinator;
  const Clock& _clock;
};

}  // namespace concertd
