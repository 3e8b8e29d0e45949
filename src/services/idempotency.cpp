#include "services/idempotency.hpp"

#include "domain/errors.hpp"

namespace concertd {
namespace {

std::optional<std::string> check(const std::optional<IdempotencyRecord>& record, const IdempotencyStamp& stamp) {
  if (!record) {
    return std::nullopt;
  }
  if (record->endpoint != stamp.endpoint || record->fingerprint != stamp.fingerprint) {
    throw ClientError(Refusal::IdempotencyKeyReused);
  }
  return record->result_ref;
}

}  // namespace

std::string IdempotencyKeys::scope(const std::string& user_id, const IdempotencyStamp& stamp) {
  return "idem:" + user_id + '\n' + stamp.key;
}

Task<std::optional<std::string>> IdempotencyKeys::claim(const std::string& user_id, const IdempotencyStamp& stamp) {
  if (!co_await _coordinator.begin_idempotent(scope(user_id, stamp), kClaimTtl)) {
    throw ClientError(Refusal::IdempotencyKeyInUse);
  }
  std::exception_ptr failure;
  std::optional<std::string> ref;
  try {
    ref = check(co_await _store.find_idempotency(user_id, stamp.key, _clock.now()), stamp);
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure || ref) {
    co_await release(user_id, stamp);
  }
  if (failure) {
    std::rethrow_exception(failure);
  }
  co_return ref;
}

Task<void> IdempotencyKeys::release(const std::string& user_id, const IdempotencyStamp& stamp) {
  co_await _coordinator.end_idempotent(scope(user_id, stamp));
}

Task<std::string> IdempotencyKeys::recorded_ref(const std::string& user_id, const IdempotencyStamp& stamp) {
  auto ref = check(co_await _store.find_idempotency(user_id, stamp.key, _clock.now()), stamp);
  if (!ref) {
    throw Unavailable("idempotency record vanished");
  }
  co_return *ref;
}

}  // namespace concertd
