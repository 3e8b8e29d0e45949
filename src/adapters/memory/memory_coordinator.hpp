#pragma once
// The in-process Coordinator of the embedded mode. One mutex guards everything; every call is a
// few map operations, so holding it is short. Positions are exact in O(log n) through a Fenwick
// tree over issue sequence numbers.
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>

#include "ports/clock.hpp"
#include "ports/coordinator.hpp"

namespace concertd {

/// Counts of waiting tokens by sequence number; append-only in index order.
class SequenceCounter {
 public:
  void reset(std::int64_t base_seq);
  void add(std::int64_t seq, int delta);
  /// Number of counted sequence numbers <= seq.
  std::int64_t count_up_to(std::int64_t seq) const;

 private:
  std::size_t index_of(std::int64_t seq) const { return static_cast<std::size_t>(seq - _base + 1); }
  std::int64_t prefix(std::size_t index) const;
  std::int64_t _base = 1;
  std::vector<std::int32_t> _tree{0};  // 1-based Fenwick tree; _tree[0] unused
};

class MemoryCoordinator final : public Coordinator {
 public:
  /// Caches beyond this many entries are dropped wholesale: they are only caches.
  static constexpr std::size_t kMaxCacheEntries = 100'000;

  MemoryCoordinator(QueueLimits limits, const Clock& clock) : _limits(limits), _clock(clock) {}

  Task<bool> ping() override { co_return true; }
  Task<IssueResult> issue(TokenRecord candidate, Timestamp now) override;
  Task<void> forget(std::string token_id) override;
  Task<std::optional<TokenView>> find(std::string token_id, Timestamp now, bool poll) override;
  Task<void> spend(std::string token_id, Timestamp now) override;
  Task<QueueChanges> tick(Timestamp now) override;
  Task<void> restore(std::vector<TokenRecord> tokens, Timestamp now) override;
  Task<QueueStats> stats(Timestamp now) override;
  QueueLimits limits() const override;

  Task<bool> try_lock_seat(ConcertId concert, int seat, std::string owner, Millis ttl) override;
  Task<void> unlock_seat(ConcertId concert, int seat, std::string owner) override;
  Task<bool> begin_idempotent(std::string scope, Millis ttl) override;
  Task<void> end_idempotent(std::string scope) override;
  Task<std::optional<std::string>> cache_get(std::string key, Timestamp now) override;
  Task<void> cache_put(std::string key, std::string value, Timestamp expires_at) override;

  // Synchronous core, also used directly by unit tests.
  IssueResult issue_now(TokenRecord candidate, Timestamp now);
  std::optional<TokenView> find_now(const std::string& token_id, Timestamp now, bool poll);
  void spend_now(const std::string& token_id, Timestamp now);
  QueueChanges tick_now(Timestamp now);
  void restore_now(std::vector<TokenRecord> tokens, Timestamp now);
  QueueStats stats_now(Timestamp now);

 private:
  struct Entry {
    TokenRecord record;
    Timestamp last_poll;
  };

  void enqueue_waiting(Entry& e, Timestamp now);
  void activate(Entry& e, Timestamp now);
  void mark_spent(Entry& e, Timestamp spent_at);
  void remove_waiting(Entry& e);
  void erase_token(const std::string& id);
  /// Applies lazy transitions (deadline passed, idle) to one token; false when it is gone.
  bool settle(Entry& e, Timestamp now);
  void admit_head(Timestamp now);
  void prune_admissions(Timestamp now);
  TokenView view_of(const Entry& e) const;

  mutable std::mutex _mutex;
  QueueLimits _limits;
  const Clock& _clock;

  std::unordered_map<std::string, Entry> _tokens;
  std::unordered_map<std::string, std::string> _live_by_user;  // waiting or active token of a user
  std::map<std::int64_t, std::string> _waiting;                  // seq -> token id, head first
  SequenceCounter _waiting_counter;
  std::int64_t _next_seq = 1;
  std::int64_t _active_count = 0;
  std::multimap<Timestamp, std::string> _active_deadlines;  // active_until -> token
  std::multimap<Timestamp, std::string> _idle_checks;       // when to look at a waiting token again
  std::multimap<Timestamp, std::string> _grace_ends;        // spent tokens forgotten then
  std::deque<Timestamp> _admissions;                        // last 60 s
  std::vector<TokenChange> _pending;                        // state changes not yet handed out

  std::unordered_map<std::string, std::pair<std::string, Timestamp>> _seat_locks;
  std::unordered_map<std::string, Timestamp> _in_flight;
  std::unordered_map<std::string, std::pair<std::string, Timestamp>> _cache;
};

}  // namespace concertd
