#include "services/balance_service.hpp"

#include <spdlog/spdlog.h>

#include "domain/errors.hpp"
#include "domain/random.hpp"
#include "domain/validation.hpp"

namespace concertd {
namespace {

std::string cache_key(const std::string& user_id) { return "user_balance:" + user_id; }

std::string encode(Money balance, Timestamp updated_at) {
  return std::to_string(balance) + ' ' + std::to_string(to_millis(updated_at));
}

BalanceView decode(const std::string& user_id, const std::string& text) {
  const auto space = text.find(' ');
  return BalanceView{user_id, std::stoll(text.substr(0, space)), from_millis(std::stoll(text.substr(space + 1)))};
}

}  // namespace

Task<BalanceView> BalanceService::get(const std::string& user_id) {
  const Timestamp now = _clock.now();
  if (auto cached = co_await _coordinator.cache_get(cache_key(user_id), now)) {
    co_return decode(user_id, *cached);
  }
  BalanceView view = co_await _store.balance(user_id);
  if (view.last_updated) {
    co_await _coordinator.cache_put(cache_key(user_id), encode(view.balance, *view.last_updated), now + kCacheTtl,
                                    true);
  }
  co_return view;
}

Task<void> BalanceService::remember(const std::string& user_id, Money balance, Timestamp updated_at) {
  co_await _coordinator.cache_put(cache_key(user_id), encode(balance, updated_at), _clock.now() + kCacheTtl, false);
}

Task<void> BalanceService::remember_after_commit(const std::string& user_id, Money balance, Timestamp updated_at) {
  try {
    co_await remember(user_id, balance, updated_at);
  } catch (const Unavailable& e) {
    /// The money moved: that is the answer, not a 503 (which promises that nothing changed).
    spdlog::warn("balance of {} not cached after a committed change (the older entry lapses): {}", user_id,
                 e.what());
  }
}

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
    throw ClientError(ErrorCode::InvalidAmount, "충전 금액이 올바르지 않습니다");
  }
  const Timestamp now = _clock.now();
  // Named first: GCC 12 destroys a temporary argument of a co_awaited call twice.
  ChargeRequest request{user_id, amount, kBalanceCap, random_id("txn-"), now, std::move(stamp)};
  ChargeOutcome outcome =
      co_await _store.charge(std::move(request));
  switch (outcome.kind) {
    case ChargeOutcome::Kind::Charged:
      co_await remember_after_commit(user_id, outcome.receipt.balance_after, now);
      co_return outcome.receipt;
    case ChargeOutcome::Kind::BalanceLimitExceeded:
      throw ClientError(ErrorCode::BalanceLimitExceeded, "잔액 한도(100,000,000원)를 초과할 수 없습니다");
    case ChargeOutcome::Kind::DuplicateKey:
      break;
  }
  throw ClientError(ErrorCode::IdempotencyKeyInUse, "같은 Idempotency-Key의 요청이 처리 중입니다");
}

}  // namespace concertd
