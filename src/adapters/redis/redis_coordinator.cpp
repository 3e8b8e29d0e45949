// Placeholder until the adapter lands: every call reports the engine unavailable.
#include "adapters/redis/redis_coordinator.hpp"

#include "domain/errors.hpp"

namespace concertd::redis {

struct RedisCoordinator::Impl {};

RedisCoordinator::RedisCoordinator(boost::asio::any_io_executor, std::string, QueueLimits, const Clock&) : _impl(std::make_unique<Impl>()) {  }
RedisCoordinator::~RedisCoordinator() = default;
Task<void> RedisCoordinator::start() { throw Unavailable("start: not implemented"); }
Task<bool> RedisCoordinator::ping() { throw Unavailable("ping: not implemented"); }
Task<IssueResult> RedisCoordinator::issue(TokenRecord candidate, Timestamp now) { throw Unavailable("issue: not implemented"); }
Task<void> RedisCoordinator::forget(std::string token_id) { throw Unavailable("forget: not implemented"); }
Task<std::optional<TokenView>> RedisCoordinator::find(std::string token_id, Timestamp now, bool poll) { throw Unavailable("find: not implemented"); }
Task<void> RedisCoordinator::spend(std::string token_id, Timestamp now) { throw Unavailable("spend: not implemented"); }
Task<QueueChanges> RedisCoordinator::tick(Timestamp now) { throw Unavailable("tick: not implemented"); }
Task<void> RedisCoordinator::restore(std::vector<TokenRecord> tokens, Timestamp now) { throw Unavailable("restore: not implemented"); }
Task<QueueStats> RedisCoordinator::stats(Timestamp now) { throw Unavailable("stats: not implemented"); }
QueueLimits RedisCoordinator::limits() const { throw Unavailable("limits: not implemented"); }
Task<bool> RedisCoordinator::try_lock_seat(ConcertId concert, int seat, std::string owner, Millis ttl) { throw Unavailable("try_lock_seat: not implemented"); }
Task<void> RedisCoordinator::unlock_seat(ConcertId concert, int seat, std::string owner) { throw Unavailable("unlock_seat: not implemented"); }
Task<bool> RedisCoordinator::begin_idempotent(std::string scope, Millis ttl) { throw Unavailable("begin_idempotent: not implemented"); }
Task<void> RedisCoordinator::end_idempotent(std::string scope) { throw Unavailable("end_idempotent: not implemented"); }
Task<std::optional<std::string>> RedisCoordinator::cache_get(std::string key, Timestamp now) { throw Unavailable("cache_get: not implemented"); }
Task<void> RedisCoordinator::cache_put(std::string key, std::string value, Timestamp expires_at, bool only_if_absent) { throw Unavailable("cache_put: not implemented"); }
Task<void> RedisCoordinator::cache_erase(std::string key) { throw Unavailable("cache_erase: not implemented"); }

}  // namespace concertd::redis
