#include "adapters/memory/memory_coordinator.hpp"

#include <cstring>
#include <stdexcept>

#include "domain/assert.hpp"

namespace concertd {

// ---- SequenceCounter --------------------------------------------------------------------------

void SequenceCounter::reset(std::int64_t base_seq) {
  _base = base_seq;
  _tree.assign(1, 0);
}

std::int64_t SequenceCounter::prefix(std::size_t index) const {
  std::int64_t sum = 0;
  for (index = std::min(index, _tree.size() - 1); index > 0; index -= index & (~index + 1)) {
    sum += _tree[index];
  }
  return sum;
}

void SequenceCounter::add(std::int64_t seq, int delta) {
  const std::size_t index = index_of(seq);
  // Growing a Fenwick tree by one slot: the new node covers (i - lowbit(i), i], whose sum
  // (without slot i itself, still zero) is a difference of two prefixes.
  while (_tree.size() <= index) {
    const std::size_t i = _tree.size();
    const std::size_t low = i & (~i + 1);
    _tree.push_back(static_cast<std::int32_t>(prefix(i - 1) - prefix(i - low)));
  }
  for (std::size_t i = index; i < _tree.size(); i += i & (~i + 1)) {
    _tree[i] += delta;
  }
}

std::int64_t SequenceCounter::count_up_to(std::int64_t seq) const {
  if (seq < _base) {
    return 0;
  }
  return prefix(index_of(seq));
}

// ---- token storage ----------------------------------------------------------------------------

namespace {

// Inline conversions (time.cpp's are out of line): the status path makes several.
std::int64_t ms(Timestamp t) { return t.time_since_epoch().count(); }
std::int64_t ms(Seconds s) { return std::chrono::duration_cast<Millis>(s).count(); }
Timestamp time_of(std::int64_t v) { return Timestamp{Millis{v}}; }
std::optional<Timestamp> time_or_none(std::int64_t v, std::int64_t none) {
  return v == none ? std::nullopt : std::optional<Timestamp>(time_of(v));
}

}  // namespace

void MemoryCoordinator::Slot::fill(std::string_view id, std::string_view user, TokenState s) {
  if (id.size() > 0xffff || user.size() > 0xffff) {
    throw std::length_error("token or user id too long");
  }
  id_size = static_cast<std::uint16_t>(id.size());
  user_size = static_cast<std::uint16_t>(user.size());
  char* out = inline_text;
  if (on_heap()) {
    heap_text = new char[id.size() + user.size()];
    out = heap_text;
  }
  std::memcpy(out, id.data(), id.size());
  std::memcpy(out + id.size(), user.data(), user.size());
  set_state(s);
}

void MemoryCoordinator::Slot::clear() {
  if (live() && on_heap()) {
    delete[] heap_text;
  }
  id_size = 0;
  user_size = 0;
  code = kEmpty;
  active_until = kNoTime;
  spent_at = kNoTime;
}

std::uint32_t MemoryCoordinator::hash_of(std::string_view key) {
  /// Eight bytes per multiply (std::hash is a third of a lookup); ids are attacker-chosen no more
  /// than with std::hash, which is unkeyed too.
  constexpr std::uint64_t kMul = 0x9e3779b97f4a7c15ull;
  const std::size_t n = key.size();
  std::uint64_t h = n * kMul;
  std::uint64_t word = 0;
  if (n < 8) {
    std::memcpy(&word, key.data(), n);
    h = (h ^ word) * kMul;
  } else {
    /// Bounded by the key; the last word overlaps the one before unless n is a multiple of 8.
    for (std::size_t i = 0; i + 8 < n; i += 8) {
      std::memcpy(&word, key.data() + i, 8);
      h = (h ^ word) * kMul;
      h ^= h >> 32;
    }
    std::memcpy(&word, key.data() + n - 8, 8);
    h = (h ^ word) * kMul;
  }
  h = (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ull;
  return static_cast<std::uint32_t>(h >> 32);
}

bool MemoryCoordinator::is_live(std::int64_t seq) const { return seq >= _lo && seq < _hi && at(seq).live(); }

std::optional<std::int64_t> MemoryCoordinator::find_id(std::string_view id) const {
  const auto found = _by_id.find(hash_of(id), [&](std::uint32_t s) { return at(seq_of(s)).id() == id; });
  return found ? std::optional<std::int64_t>(seq_of(*found)) : std::nullopt;
}

std::optional<std::int64_t> MemoryCoordinator::find_user(std::string_view user) const {
  const auto found =
      _live_by_user.find(hash_of(user), [&](std::uint32_t s) { return at(seq_of(s)).user_id() == user; });
  return found ? std::optional<std::int64_t>(seq_of(*found)) : std::nullopt;
}

MemoryCoordinator::Slot& MemoryCoordinator::place(std::int64_t seq, const TokenRecord& record, TokenState state) {
  constexpr auto kChunk = static_cast<std::int64_t>(kChunkSlots);
  if (_chunks.empty()) {
    _base = seq - ((seq % kChunk) + kChunk) % kChunk;
    _lo = seq;
    _hi = seq + 1;
  }
  if (std::max(_hi, seq + 1) - std::min(_lo, seq) > kMaxSpan) {
    throw std::length_error("queue tokens span too many sequence numbers");
  }
  /// Both loops are bounded by kMaxSpan / kChunkSlots. Gaps (restored seqs) stay empty slots.
  for (; seq < _base; _base -= kChunk) {
    _chunks.insert(_chunks.begin(), std::make_unique<Slot[]>(kChunkSlots));
  }
  while (seq >= _base + static_cast<std::int64_t>(_chunks.size() * kChunkSlots)) {
    _chunks.push_back(std::make_unique<Slot[]>(kChunkSlots));
  }
  _lo = std::min(_lo, seq);
  _hi = std::max(_hi, seq + 1);
  Slot& s = at(seq);
  s.fill(record.id, record.user_id, state);
  s.issued_at = ms(record.issued_at);
  s.active_until = record.active_until ? ms(*record.active_until) : kNoTime;
  s.spent_at = record.spent_at ? ms(*record.spent_at) : kNoTime;
  _by_id.insert(hash_of(record.id), low(seq));
  return s;
}

void MemoryCoordinator::index_user(std::int64_t seq) {
  const std::string_view user = at(seq).user_id();
  /// The newest live token of a user is the one found by user, as a map assignment would do.
  if (const auto previous = find_user(user)) {
    _live_by_user.erase(hash_of(user), low(*previous));
  }
  _live_by_user.insert(hash_of(user), low(seq));
}

void MemoryCoordinator::erase_token(std::int64_t seq) {
  Slot& s = at(seq);
  _by_id.erase(hash_of(s.id()), low(seq));
  _live_by_user.erase(hash_of(s.user_id()), low(seq));  // no-op unless it is the user's live token
  s.clear();
  /// Bounded by the span; tokens leave roughly in issue order, so the front empties.
  while (_lo < _hi && !at(_lo).live()) {
    ++_lo;
  }
  while (_hi > _lo && !at(_hi - 1).live()) {
    --_hi;
  }
  if (_lo == _hi) {
    _chunks.clear();
    return;
  }
  const auto unused_front = static_cast<std::uint64_t>(_lo - _base) / kChunkSlots;
  if (unused_front > 0) {
    _chunks.erase(_chunks.begin(), _chunks.begin() + static_cast<std::ptrdiff_t>(unused_front));
    _base += static_cast<std::int64_t>(unused_front * kChunkSlots);
  }
  _chunks.resize(static_cast<std::uint64_t>(_hi - 1 - _base) / kChunkSlots + 1);
}

void MemoryCoordinator::schedule_idle_check(std::int64_t seq, std::int64_t poll_ms) {
  _idle_checks[poll_ms / kIdleBucketMs].push_back(low(seq));
  ++_idle_entries;
}

void MemoryCoordinator::check_idle(Timestamp now) {
  const std::int64_t oldest_alive = ms(now) - ms(_limits.waiting_idle_ttl);  // a poll before is idle
  /// Bounded by the entries scheduled up to now - ttl: each is dropped, skipped (gone), moved to a
  /// later bucket, or kept in the one bucket that is only partly due, which ends the loop.
  while (!_idle_checks.empty() && _idle_checks.begin()->first * kIdleBucketMs <= oldest_alive) {
    auto node = _idle_checks.extract(_idle_checks.begin());
    std::vector<std::uint32_t>& seqs = node.mapped();
    _idle_entries -= seqs.size();
    std::size_t kept = 0;
    for (const std::uint32_t low_bits : seqs) {
      const std::int64_t seq = seq_of(low_bits);
      const TokenState state = is_live(seq) ? at(seq).state() : TokenState::Dropped;
      if ((state != TokenState::Waiting && state != TokenState::PreQueue) || !settle(seq, now)) {
        continue;
      }
      if (at(seq).last_poll / kIdleBucketMs <= node.key()) {
        seqs[kept++] = low_bits;
      } else {
        schedule_idle_check(seq, at(seq).last_poll);
      }
    }
    if (kept > 0) {
      seqs.resize(kept);
      _idle_entries += kept;
      _idle_checks.insert(std::move(node));
      break;
    }
  }
}

MemoryCoordinator::Footprint MemoryCoordinator::footprint_now() const {
  std::lock_guard lock(_mutex);
  return {static_cast<std::size_t>(_hi - _lo), _by_id.capacity() + _live_by_user.capacity(),
          _idle_entries + _active_deadlines.size() + _grace_ends.size()};
}

// ---- queue ------------------------------------------------------------------------------------

TokenView MemoryCoordinator::view_of(std::int64_t seq) const {
  const Slot& s = at(seq);
  std::int64_t position = 0;
  if (s.state() == TokenState::Waiting) {
    position = _waiting_counter.count_up_to(seq);
    /// Behind an opening being placed, its tokens without a place yet count as ahead already, so
    /// that a later arrival's place never grows while the block fills.
    if (_opening && seq >= _opening->claim.first_seq + _opening->claim.block_size) {
      position += _opening->unplaced;
    }
  }
  return {std::string(s.id()),
          std::string(s.user_id()),
          s.state(),
          seq,
          position,
          time_of(s.issued_at),
          time_or_none(s.active_until, kNoTime),
          time_or_none(s.spent_at, kNoTime)};
}

void MemoryCoordinator::enqueue_waiting(std::int64_t seq, Timestamp now) {
  at(seq).set_state(TokenState::Waiting);
  at(seq).last_poll = ms(now);
  ++_waiting_count;
  _waiting_counter.add(seq, 1);
  _head = std::min(_head, seq);
  schedule_idle_check(seq, ms(now));
}

void MemoryCoordinator::enqueue_pre_queue(std::int64_t seq, Timestamp now) {
  at(seq).set_state(TokenState::PreQueue);
  at(seq).last_poll = ms(now);
  ++_pre_queue_count;
  _pre_queue_ids.emplace_back(at(seq).id());
  schedule_idle_check(seq, ms(now));
}

void MemoryCoordinator::remove_waiting(std::int64_t seq) {
  CONCERTD_ASSERT(_waiting_count > 0, "a token leaves the line only if someone waits");
  _waiting_counter.add(seq, -1);
  if (--_waiting_count == 0) {
    // Nobody waits: restart the counter so that its memory follows the line, not history.
    _waiting_counter.reset(counter_floor());
  }
}

void MemoryCoordinator::activate(std::int64_t seq, Timestamp now) {
  Slot& s = at(seq);
  CONCERTD_ASSERT(s.state() != TokenState::Active, "a token is admitted once");
  s.set_state(TokenState::Active);
  s.active_until = ms(now + _limits.active_ttl);
  ++_active_count;
  _active_deadlines.emplace(time_of(s.active_until), seq);
  _admissions.push_back(now);
  _pending.push_back({std::string(s.id()), TokenState::Active, time_of(s.active_until), std::nullopt});
}

void MemoryCoordinator::mark_spent(std::int64_t seq, Timestamp spent_at) {
  Slot& s = at(seq);
  if (s.state() == TokenState::Active) {
    CONCERTD_ASSERT(_active_count > 0, "an active token is counted among the active");
    --_active_count;
  }
  s.set_state(TokenState::Spent);
  s.spent_at = ms(spent_at);
  _live_by_user.erase(hash_of(s.user_id()), low(seq));
  _grace_ends.emplace(spent_at + _limits.spent_grace, seq);
}

bool MemoryCoordinator::settle(std::int64_t seq, Timestamp now) {
  const Slot& s = at(seq);
  switch (s.state()) {
    case TokenState::Waiting:
      if (s.last_poll + ms(_limits.waiting_idle_ttl) <= ms(now)) {
        remove_waiting(seq);
        _pending.push_back({std::string(s.id()), TokenState::Dropped, std::nullopt, std::nullopt});
        erase_token(seq);
        return false;
      }
      return true;
    case TokenState::PreQueue:
      /// A pre-queue closed by a claim is kept whole until placed (each gets a fresh idle clock then).
      if (!_opening && s.last_poll + ms(_limits.waiting_idle_ttl) <= ms(now)) {
        --_pre_queue_count;
        _pending.push_back({std::string(s.id()), TokenState::Dropped, std::nullopt, std::nullopt});
        erase_token(seq);
        return false;
      }
      return true;
    case TokenState::Active:
      if (s.active_until <= ms(now)) {
        mark_spent(seq, time_of(s.active_until));
        _pending.push_back({std::string(s.id()), TokenState::Spent, time_of(s.active_until), time_of(s.spent_at)});
      }
      return true;
    case TokenState::Spent:
      if (s.spent_at + ms(_limits.spent_grace) <= ms(now)) {
        erase_token(seq);
        return false;
      }
      return true;
    case TokenState::Dropped:
      erase_token(seq);
      return false;
  }
  return false;
}

IssueResult MemoryCoordinator::issue_now(TokenRecord candidate, Timestamp now) {
  std::lock_guard lock(_mutex);
  if (const auto existing = find_user(candidate.user_id);
      existing && settle(*existing, now) && at(*existing).state() != TokenState::Spent) {
    if (at(*existing).state() == TokenState::Waiting || at(*existing).state() == TokenState::PreQueue) {
      at(*existing).last_poll = ms(now);
    }
    return {view_of(*existing), false};
  }
  if (find_id(candidate.id)) {
    throw std::invalid_argument("queue token id issued twice");
  }
  const std::int64_t seq = _next_seq++;
  candidate.active_until.reset();
  candidate.spent_at.reset();
  place(seq, candidate, TokenState::Waiting);
  index_user(seq);
  if (pre_queue_mode()) {
    enqueue_pre_queue(seq, now);
  } else if (_waiting_count == 0 && _active_count < _limits.max_active && admissions_open() && take_admission(now)) {
    activate(seq, now);
    _pending.pop_back();  // the issue itself is stored with this state
  } else {
    enqueue_waiting(seq, now);
  }
  return {view_of(seq), true};
}

Task<IssueResult> MemoryCoordinator::issue(TokenRecord candidate, Timestamp now) {
  co_return issue_now(std::move(candidate), now);
}

Task<void> MemoryCoordinator::forget(std::string token_id) {
  std::lock_guard lock(_mutex);
  if (const auto seq = find_id(token_id)) {
    if (at(*seq).state() == TokenState::Waiting) {
      remove_waiting(*seq);
    } else if (at(*seq).state() == TokenState::PreQueue) {
      --_pre_queue_count;
    } else if (at(*seq).state() == TokenState::Active) {
      --_active_count;
    }
    erase_token(*seq);
  }
  co_return;
}

std::optional<TokenView> MemoryCoordinator::find_now(const std::string& token_id, Timestamp now, bool poll) {
  std::lock_guard lock(_mutex);
  return find_locked(token_id, now, poll);
}

std::optional<TokenView> MemoryCoordinator::find_locked(const std::string& token_id, Timestamp now, bool poll) {
  const auto seq = find_id(token_id);
  if (!seq || !settle(*seq, now)) {
    return std::nullopt;
  }
  if (poll && (at(*seq).state() == TokenState::Waiting || at(*seq).state() == TokenState::PreQueue)) {
    at(*seq).last_poll = ms(now);
  }
  return view_of(*seq);
}

Task<std::optional<TokenView>> MemoryCoordinator::find(std::string token_id, Timestamp now, bool poll) {
  co_return find_now(token_id, now, poll);
}

Task<Coordinator::Poll> MemoryCoordinator::poll(std::string token_id, Timestamp now) {
  Poll out;
  {
    std::lock_guard lock(_mutex);
    out.token = find_locked(token_id, now, true);
    if (out.token && out.token->state == TokenState::Waiting) {
      out.stats = stats_locked(now);
    }
  }
  co_return out;
}

void MemoryCoordinator::spend_now(const std::string& token_id, Timestamp now) {
  std::lock_guard lock(_mutex);
  if (const auto seq = find_id(token_id); seq && at(*seq).state() == TokenState::Active) {
    mark_spent(*seq, now);  // the payment transaction already stored this state
  }
}

Task<void> MemoryCoordinator::spend(std::string token_id, Timestamp now) {
  spend_now(token_id, now);
  co_return;
}

bool MemoryCoordinator::take_admission(Timestamp now) {
  return !_admit_per_minute || _budget.take(ms(now), *_admit_per_minute);
}

void MemoryCoordinator::admit_head(Timestamp now) {
  /// Bounded by the span: the cursor only moves forward, over tokens that no longer wait.
  while (_active_count < _limits.max_active && _waiting_count > 0 && admissions_open() && take_admission(now)) {
    for (_head = std::max(_head, _lo); _head < _hi && at(_head).state() != TokenState::Waiting; ++_head) {
    }
    CONCERTD_ASSERT(_head < _hi, "every waiting token's seq is at or after the head of the line");
    remove_waiting(_head);
    activate(_head, now);
  }
}

void MemoryCoordinator::prune_admissions(Timestamp now) {
  while (!_admissions.empty() && _admissions.front() + Seconds{60} <= now) {
    _admissions.pop_front();
  }
}

QueueChanges MemoryCoordinator::tick_now(Timestamp now) {
  std::lock_guard lock(_mutex);
  // Each schedule is drained only up to `now`: every entry is visited once, so a tick's work is
  // bounded by what fell due since the last one.
  while (!_active_deadlines.empty() && _active_deadlines.begin()->first <= now) {
    const std::int64_t seq = _active_deadlines.extract(_active_deadlines.begin()).mapped();
    if (is_live(seq)) {
      settle(seq, now);
    }
  }
  check_idle(now);
  while (!_grace_ends.empty() && _grace_ends.begin()->first <= now) {
    const std::int64_t seq = _grace_ends.extract(_grace_ends.begin()).mapped();
    if (is_live(seq)) {
      settle(seq, now);
    }
  }
  admit_head(now);
  prune_admissions(now);
  QueueChanges out;
  out.changes.swap(_pending);
  return out;
}

Task<QueueChanges> MemoryCoordinator::tick(Timestamp now) { co_return tick_now(now); }

void MemoryCoordinator::restore_now(std::vector<TokenRecord> tokens, Timestamp now) {
  std::lock_guard lock(_mutex);
  std::int64_t min_waiting_seq = std::numeric_limits<std::int64_t>::max();
  for (const auto& t : tokens) {
    _next_seq = std::max(_next_seq, t.seq + 1);
    // A pre-queue token's place will lie after its own seq: the counter starts no later.
    if (t.state == TokenState::Waiting || t.state == TokenState::PreQueue) {
      min_waiting_seq = std::min(min_waiting_seq, t.seq);
    }
  }
  _waiting_counter.reset(min_waiting_seq == std::numeric_limits<std::int64_t>::max() ? _next_seq : min_waiting_seq);
  for (const auto& t : tokens) {
    if (t.state == TokenState::Dropped || is_live(t.seq) || find_id(t.id)) {
      continue;
    }
    place(t.seq, t, t.state);
    switch (t.state) {
      case TokenState::Waiting:
        index_user(t.seq);
        enqueue_waiting(t.seq, now);
        break;
      case TokenState::Active:
        index_user(t.seq);
        ++_active_count;
        _active_deadlines.emplace(*t.active_until, t.seq);
        break;
      case TokenState::Spent:
        _grace_ends.emplace(*t.spent_at + _limits.spent_grace, t.seq);
        break;
      case TokenState::PreQueue:
        index_user(t.seq);
        enqueue_pre_queue(t.seq, now);
        break;
      case TokenState::Dropped:
        break;
    }
  }
}

Task<void> MemoryCoordinator::restore(std::vector<TokenRecord> tokens, Timestamp now) {
  restore_now(std::move(tokens), now);
  co_return;
}

QueueStats MemoryCoordinator::stats_now(Timestamp now) {
  std::lock_guard lock(_mutex);
  return stats_locked(now);
}

QueueStats MemoryCoordinator::stats_locked(Timestamp now) {
  prune_admissions(now);
  CONCERTD_ASSERT(_pre_queue_count >= 0 && _waiting_count >= 0 && _active_count >= 0,
                  "the line's counts are never negative");
  return {_pre_queue_count, _waiting_count, _active_count, static_cast<std::int64_t>(_admissions.size())};
}

Task<QueueStats> MemoryCoordinator::stats(Timestamp now) { co_return stats_now(now); }

void MemoryCoordinator::configure(const RoomSettings& room) {
  std::lock_guard lock(_mutex);
  _limits.max_active = room.max_active;
  _paused = room.paused;
  _admit_per_minute = room.admit_per_minute;
  _opens_at = room.opens_at;
  _opened_for = room.opened_for;
  _claimed = room.claim;
}

std::optional<OpeningClaim> MemoryCoordinator::claim_opening_now(Timestamp now, std::string seed) {
  std::lock_guard lock(_mutex);
  if (_opening) {
    if (_opening->lease_until > now) {
      return std::nullopt;
    }
    // Its claimer failed (the store write threw): the same opening, handed out again.
    _opening->lease_until = now + kOpeningLease;
    return _opening->claim;
  }
  if (!_opens_at || *_opens_at > now || _opened_for == _opens_at) {
    return std::nullopt;
  }
  Opening opening;
  opening.claim.opens_at = *_opens_at;
  // Handed over, not copied: the claim runs on the event loop.
  opening.claim.token_ids = std::make_shared<const std::vector<std::string>>(std::move(_pre_queue_ids));
  _pre_queue_ids.clear();
  const auto ids = static_cast<std::int64_t>(opening.claim.token_ids->size());
  if (_claimed && _claimed->opens_at == *_opens_at) {
    // Claimed before a restart and never written: the same seed and block (the restored
    // pre-queue is part of the one closed then, and later arrivals' seqs lie beyond the block).
    opening.claim.seed = _claimed->seed;
    opening.claim.first_seq = _claimed->first_seq;
    opening.claim.block_size = std::max(_claimed->block_size, ids);
  } else {
    opening.claim.seed = std::move(seed);
    opening.claim.first_seq = _next_seq;
    opening.claim.block_size = ids;
  }
  _next_seq = std::max(_next_seq, opening.claim.first_seq + opening.claim.block_size);
  opening.unplaced = _pre_queue_count;
  opening.lease_until = now + kOpeningLease;
  _opening = std::move(opening);
  return _opening->claim;
}

Task<std::optional<OpeningClaim>> MemoryCoordinator::claim_opening(Timestamp now, std::string seed) {
  co_return claim_opening_now(now, std::move(seed));
}

void MemoryCoordinator::place_opened_now(Timestamp opens_at, const std::vector<std::string>& ordered_ids,
                                         std::int64_t first_seq, bool last, Timestamp now) {
  std::lock_guard lock(_mutex);
  if (!_opening || _opening->claim.opens_at != opens_at) {
    return;  // placed already
  }
  const std::int64_t block_end = _opening->claim.first_seq + _opening->claim.block_size;
  for (std::size_t i = 0; i < ordered_ids.size(); ++i) {
    const std::int64_t seq = first_seq + static_cast<std::int64_t>(i);
    const auto old = find_id(ordered_ids[i]);
    if (!old || at(*old).state() != TokenState::PreQueue || seq < _opening->claim.first_seq || seq >= block_end) {
      continue;
    }
    TokenRecord record{std::string(at(*old).id()),
                       std::string(at(*old).user_id()),
                       seq,
                       TokenState::Waiting,
                       time_of(at(*old).issued_at),
                       std::nullopt,
                       std::nullopt};
    erase_token(*old);
    --_pre_queue_count;
    --_opening->unplaced;
    place(seq, record, TokenState::Waiting);
    index_user(seq);
    enqueue_waiting(seq, now);
  }
  if (last) {
    _opened_for = opens_at;
    _opening.reset();
  }
}

Task<void> MemoryCoordinator::place_opened(Timestamp opens_at, std::vector<std::string> ordered_ids,
                                           std::int64_t first_seq, bool last, Timestamp now) {
  place_opened_now(opens_at, ordered_ids, first_seq, last, now);
  co_return;
}

// ---- locks, in-flight keys, caches --------------------------------------------------------------

Task<bool> MemoryCoordinator::try_lock_seat(ConcertId concert, int seat, std::string owner, Millis ttl) {
  const Timestamp now = _clock.now();
  std::lock_guard lock(_mutex);
  const std::string key = std::to_string(concert) + ':' + std::to_string(seat);
  auto it = _seat_locks.find(key);
  if (it != _seat_locks.end() && it->second.second > now) {
    co_return false;
  }
  _seat_locks[key] = {std::move(owner), now + ttl};
  co_return true;
}

Task<void> MemoryCoordinator::unlock_seat(ConcertId concert, int seat, std::string owner) {
  std::lock_guard lock(_mutex);
  const std::string key = std::to_string(concert) + ':' + std::to_string(seat);
  if (auto it = _seat_locks.find(key); it != _seat_locks.end() && it->second.first == owner) {
    _seat_locks.erase(it);
  }
  co_return;
}

Task<bool> MemoryCoordinator::begin_idempotent(std::string scope, Millis ttl) {
  const Timestamp now = _clock.now();
  std::lock_guard lock(_mutex);
  auto it = _in_flight.find(scope);
  if (it != _in_flight.end() && it->second > now) {
    co_return false;
  }
  _in_flight[std::move(scope)] = now + ttl;
  co_return true;
}

Task<void> MemoryCoordinator::end_idempotent(std::string scope) {
  std::lock_guard lock(_mutex);
  _in_flight.erase(scope);
  co_return;
}

}  // namespace concertd
