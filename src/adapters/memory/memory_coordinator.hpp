#pragma once
// The in-process Coordinator of the embedded mode. One mutex guards everything; every call is a
// few table operations, so holding it is short. Positions are exact in O(log n) through a Fenwick
// tree over issue sequence numbers.
//
// A ticket opening puts a million tokens in the line, so a token is stored compactly: one 128-byte
// slot in chunks indexed by its sequence number (ids inline), found by id or by user through
// open-addressing tables of 8-byte cells, and checked for idleness from buckets of 4-byte seqs.
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "adapters/memory/seq_index.hpp"
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
  MemoryCoordinator(QueueLimits limits, const Clock& clock) : _limits(limits), _clock(clock) {}

  Task<bool> ping() override { co_return true; }
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

  // Synchronous core, also used directly by unit tests.
  IssueResult issue_now(TokenRecord candidate, Timestamp now);
  std::optional<TokenView> find_now(const std::string& token_id, Timestamp now, bool poll);
  void spend_now(const std::string& token_id, Timestamp now);
  QueueChanges tick_now(Timestamp now);
  void restore_now(std::vector<TokenRecord> tokens, Timestamp now);
  QueueStats stats_now(Timestamp now);
  std::optional<OpeningClaim> claim_opening_now(Timestamp now, std::string seed);
  void place_opened_now(Timestamp opens_at, const std::vector<std::string>& ordered_ids, std::int64_t first_seq,
                        bool last, Timestamp now);

  /// What the token storage holds, for tests of its bounds.
  struct Footprint {
    std::size_t slots = 0;        // seqs from the oldest live token to the newest
    std::size_t index_cells = 0;  // both lookup tables
    std::size_t scheduled = 0;    // idle checks, active deadlines and grace ends
  };
  Footprint footprint_now() const;

 private:
  /// Optional times are this sentinel: std::optional<Timestamp> would take 16 bytes.
  static constexpr std::int64_t kNoTime = std::numeric_limits<std::int64_t>::min();
  /// Live seqs span less than this, so that their low 32 bits identify them.
  static constexpr std::int64_t kMaxSpan = std::int64_t{1} << 31;

  /// The token of one sequence number, or an empty gap. Times are milliseconds since the epoch.
  struct Slot {
    static constexpr std::size_t kInlineText = 88;  // id + user id: a 44-character token and 44 more
    static constexpr std::uint8_t kEmpty = 0xff;

    Slot() = default;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { clear(); }

    bool live() const { return code != kEmpty; }
    TokenState state() const { return static_cast<TokenState>(code); }
    void set_state(TokenState s) { code = static_cast<std::uint8_t>(s); }
    bool on_heap() const { return std::size_t{id_size} + user_size > kInlineText; }
    const char* text() const { return on_heap() ? heap_text : inline_text; }
    std::string_view id() const { return {text(), id_size}; }
    std::string_view user_id() const { return {text() + id_size, user_size}; }
    void fill(std::string_view id, std::string_view user, TokenState s);
    void clear();

    std::int64_t issued_at = 0;
    std::int64_t last_poll = 0;  // waiting tokens only
    std::int64_t active_until = kNoTime;
    std::int64_t spent_at = kNoTime;
    std::uint16_t id_size = 0;
    std::uint16_t user_size = 0;
    std::uint8_t code = kEmpty;  // a TokenState, or kEmpty
    union {
      char inline_text[kInlineText];
      char* heap_text;  // when the two ids do not fit inline
    };
  };
  static_assert(sizeof(Slot) == 128);

  static std::uint32_t low(std::int64_t seq) { return static_cast<std::uint32_t>(seq); }
  static std::uint32_t hash_of(std::string_view key);
  std::int64_t seq_of(std::uint32_t low_bits) const {
    return _base + static_cast<std::uint32_t>(low_bits - low(_base));
  }
  Slot& at(std::int64_t seq) {
    const auto i = static_cast<std::uint64_t>(seq - _base);
    return _chunks[i / kChunkSlots][i % kChunkSlots];
  }
  const Slot& at(std::int64_t seq) const {
    const auto i = static_cast<std::uint64_t>(seq - _base);
    return _chunks[i / kChunkSlots][i % kChunkSlots];
  }
  bool is_live(std::int64_t seq) const;
  std::optional<std::int64_t> find_id(std::string_view id) const;
  std::optional<std::int64_t> find_user(std::string_view user) const;
  /// Fills the slot of `seq` (adding chunks at either end) and indexes its id.
  Slot& place(std::int64_t seq, const TokenRecord& record, TokenState state);
  void index_user(std::int64_t seq);

  void enqueue_waiting(std::int64_t seq, Timestamp now);
  void enqueue_pre_queue(std::int64_t seq, Timestamp now);
  /// No admission while paused or while an opening is being placed (its tokens go first).
  bool admissions_open() const { return !_paused && !_opening; }
  /// One admission from the outflow cap's budget, when there is a cap.
  bool take_admission(Timestamp now);
  /// New tokens join the pre-queue: an opening is set, not done and not claimed yet.
  bool pre_queue_mode() const {
    return _opens_at && _opened_for != _opens_at && !(_opening && _opening->claim.opens_at == *_opens_at);
  }
  /// Where the waiting counter may start: no waiting token, nor a place being drawn, lies before.
  std::int64_t counter_floor() const { return _opening ? std::min(_next_seq, _opening->claim.first_seq) : _next_seq; }
  void activate(std::int64_t seq, Timestamp now);
  void mark_spent(std::int64_t seq, Timestamp spent_at);
  void remove_waiting(std::int64_t seq);
  void erase_token(std::int64_t seq);
  void schedule_idle_check(std::int64_t seq, std::int64_t poll_ms);
  /// Drops the waiting tokens idle since now - waiting-idle-ttl.
  void check_idle(Timestamp now);
  /// Applies lazy transitions (deadline passed, idle) to one token; false when it is gone.
  bool settle(std::int64_t seq, Timestamp now);
  void admit_head(Timestamp now);
  void prune_admissions(Timestamp now);
  TokenView view_of(std::int64_t seq) const;
  // find_now and stats_now without taking the lock (the caller holds it), so that a status poll
  // reads the token and the line's counts at one instant, as the Redis script does.
  std::optional<TokenView> find_locked(const std::string& token_id, Timestamp now, bool poll);
  QueueStats stats_locked(Timestamp now);

  mutable std::mutex _mutex;
  QueueLimits _limits;
  const Clock& _clock;

  // The room's settings (configure) and the opening.
  bool _paused = false;
  std::optional<std::int64_t> _admit_per_minute;
  std::optional<Timestamp> _opens_at;
  std::optional<Timestamp> _opened_for;
  std::optional<RoomSettings::Claim> _claimed;  // the store's record of the last claim
  AdmissionBudget _budget;
  std::int64_t _pre_queue_count = 0;
  /// Ids of the tokens that joined the pre-queue since the last claim (may name gone ones): the
  /// claim takes the whole list at once instead of scanning the line.
  std::vector<std::string> _pre_queue_ids;
  struct Opening {
    OpeningClaim claim;
    std::int64_t unplaced = 0;  // pre-queue tokens of the claim still without their place
    Timestamp lease_until;
  };
  std::optional<Opening> _opening;

  /// Slots in chunks of our own (std::deque's indexing took ~20 instructions, several times per
  /// status request; this takes ~5): chunk c holds seqs _base + c * kChunkSlots onwards. Tokens
  /// leave roughly in issue order and chunks are released off both ends, so memory follows the
  /// live tokens, not history.
  static constexpr std::uint64_t kChunkSlots = 512;  // 64 KiB
  std::vector<std::unique_ptr<Slot[]>> _chunks;
  std::int64_t _base = 0;  // a multiple of kChunkSlots
  std::int64_t _lo = 0;    // every live token's seq is in [_lo, _hi)
  std::int64_t _hi = 0;
  SeqIndex _by_id;
  SeqIndex _live_by_user;  // waiting or active token of a user
  SequenceCounter _waiting_counter;
  std::int64_t _waiting_count = 0;
  std::int64_t _head = 1;  // no waiting token has a smaller seq
  /// Waiting tokens by the 100 ms bucket of their last poll when scheduled; a poll only writes
  /// last_poll. A bucket is looked at once its start is idle-ttl old: a token polled since moves
  /// to its new bucket, one due is dropped. A tick every 100 ms sees a partly due bucket about once.
  static constexpr std::int64_t kIdleBucketMs = 100;
  std::map<std::int64_t, std::vector<std::uint32_t>> _idle_checks;  // bucket -> low seq bits
  std::size_t _idle_entries = 0;
  std::int64_t _next_seq = 1;
  std::int64_t _active_count = 0;
  std::multimap<Timestamp, std::int64_t> _active_deadlines;  // active_until -> seq
  std::multimap<Timestamp, std::int64_t> _grace_ends;        // spent tokens forgotten then
  std::deque<Timestamp> _admissions;                         // last 60 s
  std::vector<TokenChange> _pending;                         // state changes not yet handed out

  std::unordered_map<std::string, std::pair<std::string, Timestamp>> _seat_locks;
  std::unordered_map<std::string, Timestamp> _in_flight;
};

}  // namespace concertd
