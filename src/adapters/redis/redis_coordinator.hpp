#pragma once
// The distributed Coordinator: the waiting line, active set, seat locks, in-flight idempotency
// keys and caches in Redis, so that several instances share them. hiredis's RESP reader and
// command formatter over an Asio socket, pipelined, with a timeout per command and reconnects;
// multi-key steps are Lua scripts, so a crash between steps loses nothing.
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "ports/clock.hpp"
#include "ports/coordinator.hpp"

namespace concertd::redis {

class RedisCoordinator final : public Coordinator {
 public:
  /// `url`: redis://host:port[/db]. Nothing connects until start().
  RedisCoordinator(boost::asio::any_io_executor executor, std::string url, QueueLimits limits, const Clock& clock);
  ~RedisCoordinator() override;

  /// Connects and loads the scripts. Throws when Redis cannot be reached.
  Task<void> start();

  Task<bool> ping() override;
  Task<IssueResult> issue(TokenRecord candidate, Timestamp now) override;
  Task<void> forget(std::string token_id) override;
  Task<std::optional<TokenView>> find(std::string token_id, Timestamp now, bool poll) override;
  Task<Poll> poll(std::string token_id, Timestamp now) override;
  Task<void> spend(std::string token_id, Timestamp now) override;
  Task<QueueChanges> tick(Timestamp now) override;
  Task<void> restore(std::vector<TokenRecord> tokens, Timestamp now) override;
  Task<QueueStats> stats(Timestamp now) override;
  void configure(const RoomSettings& room) override;
  Task<std::optional<OpeningClaim>> claim_opening(Timestamp now, std::string seed) override;
  Task<void> place_opened(Timestamp opens_at, std::vector<std::string> ordered_ids, std::int64_t first_seq, bool last,
                          Timestamp now) override;

  Task<bool> try_lock_seat(ConcertId concert, int seat, std::string owner, Millis ttl) override;
  Task<void> unlock_seat(ConcertId concert, int seat, std::string owner) override;
  Task<bool> begin_idempotent(std::string scope, Millis ttl) override;
  Task<void> end_idempotent(std::string scope) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> _impl;
};

}  // namespace concertd::redis
