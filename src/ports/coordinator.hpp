#pragma once
// Fast shared state that is not the truth on seats or money: the waiting line and active set,
// seat locks in front of the store, in-flight idempotency keys and short-lived caches.
// In process for the embedded mode; Redis when several instances share one line.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "domain/model.hpp"
#include "domain/waiting_room.hpp"
#include "ports/store.hpp"

namespace concertd {

/// The most changes one tick hands out on an engine that bounds them (Redis: a script must not
/// block the server for long); the rest come with the next ticks. The queue service writes at
/// least this many per tick, so its backlog cannot grow tick after tick while the store keeps up.
inline constexpr std::size_t kMaxTickChanges = 4096;

/// How long a claimed opening is its claimer's before another instance may finish it.
inline constexpr Seconds kOpeningLease{10};

struct QueueLimits {
  std::int64_t max_active = 100;
  Seconds active_ttl{600};
  Seconds waiting_idle_ttl{300};
  Seconds spent_grace{300};  // = hold-ttl: a spent token still serves its user this long
};

/// A token as the queue sees it now.
struct TokenView {
  std::string id;
  std::string user_id;
  TokenState state = TokenState::Waiting;
  std::int64_t seq = 0;       // issue order
  std::int64_t position = 0;  // 1 + live waiting tokens ahead (waiting only)
  Timestamp issued_at;
  std::optional<Timestamp> active_until;
  std::optional<Timestamp> spent_at;
};

struct IssueResult {
  TokenView token;
  bool created = false;  // false: the user's live token, returned again
};

/// What a tick changed, to be written to the store.
struct QueueChanges {
  std::vector<TokenChange> changes;
  /// The shared line is gone (Redis lost its data): restore it from the store. Until then the
  /// queue answers Unavailable rather than place anyone against a partial line.
  bool line_lost = false;
  bool empty() const { return changes.empty(); }
};

/// An opening claimed by one instance: the pre-queue as it was closed, and where it goes.
struct OpeningClaim {
  Timestamp opens_at;  // the opening's opensAt
  std::string seed;    // drawn by the instance that claimed it first; published
  /// The block of sequence numbers reserved for the pre-queue, behind every token waiting at
  /// the claim and ahead of every later arrival: the token drawn k-th (from 0) gets first_seq + k.
  std::int64_t first_seq = 0;
  std::int64_t block_size = 0;  // the block is [first_seq, first_seq + block_size)
  /// The pre-queue's token ids, unordered. May name tokens dropped since: placing skips them,
  /// and the draw ranks every id on its own, so a gone one changes nobody's order.
  TokenIds token_ids;
};

struct QueueStats {
  std::int64_t pre_queue = 0;  // waiting for the opening, no place yet
  std::int64_t waiting = 0;
  std::int64_t active = 0;
  std::int64_t admitted_last_minute = 0;
};

class Coordinator {
 public:
  virtual ~Coordinator() = default;

  virtual Task<bool> ping() = 0;

  /// The user's live token (counted as a poll), or `candidate` placed at the back of the line,
  /// active at once when a slot is free and nobody waits.
  /// Before the opening (see configure) the new token joins the pre-queue instead.
  virtual Task<IssueResult> issue(TokenRecord candidate, Timestamp now) = 0;
  /// Takes back a token whose issue could not be stored.
  virtual Task<void> forget(std::string token_id) = 0;
  /// The token's current view; `poll` refreshes a waiting token's idle clock.
  virtual Task<std::optional<TokenView>> find(std::string token_id, Timestamp now, bool poll) = 0;
  /// A status poll: the token as `find(..., poll = true)` sees it and, when it waits, the line's
  /// counts taken at the same instant for its wait estimate. One call because it is the request
  /// a million waiting fans repeat: one round trip and one script in Redis instead of two.
  struct Poll {
    std::optional<TokenView> token;
    std::optional<QueueStats> stats;  // present when the token waits
  };
  virtual Task<Poll> poll(std::string token_id, Timestamp now) = 0;
  /// The token is spent (its user paid): its slot is freed at once.
  virtual Task<void> spend(std::string token_id, Timestamp now) = 0;
  /// Admits the head of the line into free slots, spends tokens past activeUntil, drops waiting
  /// tokens idle past waiting-idle-ttl, forgets spent tokens past their grace.
  virtual Task<QueueChanges> tick(Timestamp now) = 0;
  /// Puts stored tokens back after a restart; every idle clock starts afresh at `now`.
  virtual Task<void> restore(std::vector<TokenRecord> tokens, Timestamp now) = 0;
  virtual Task<QueueStats> stats(Timestamp now) = 0;

  /// The room's live settings (maxActive, the outflow cap, pause, the opening): applied from the
  /// next call on. Every instance is told within a second of a change; a shared line keeps one
  /// outflow budget for all of them.
  virtual void configure(const RoomSettings& room) = 0;
  /// Claims the due opening (`configure`d opensAt passed, not opened yet): closes the pre-queue,
  /// reserves its block of sequence numbers and keeps `seed` (the configured claim's seed and
  /// block instead, when it is this opening's: its claimer stopped before writing the opening). Exactly one caller
  /// across the instances gets a claim; an opening whose claimer has not finished within kOpeningLease is handed out
  /// again, with the same seed, block and ids, so the result is the same. Nullopt when nothing is due or another caller
  /// holds it. No admission happens while an opening is claimed.
  virtual Task<std::optional<OpeningClaim>> claim_opening(Timestamp now, std::string seed) = 0;
  /// Places a slice of the draw: ordered_ids[i] waits at seq first_seq + i (ids no longer in the
  /// pre-queue are skipped). Slices come in order; `last` ends the opening. Safe to repeat.
  virtual Task<void> place_opened(Timestamp opens_at, std::vector<std::string> ordered_ids, std::int64_t first_seq,
                                  bool last, Timestamp now) = 0;

  /// The diagram's seat lock: a filter that keeps a crowd on one seat off the store.
  virtual Task<bool> try_lock_seat(ConcertId concert, int seat, std::string owner, Millis ttl) = 0;
  virtual Task<void> unlock_seat(ConcertId concert, int seat, std::string owner) = 0;

  /// Marks an idempotency key in flight; false when another request holds it.
  virtual Task<bool> begin_idempotent(std::string scope, Millis ttl) = 0;
  virtual Task<void> end_idempotent(std::string scope) = 0;
};

}  // namespace concertd
