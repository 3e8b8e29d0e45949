#include "adapters/memory/memory_coordinator.hpp"

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

// ---- queue ------------------------------------------------------------------------------------

TokenView MemoryCoordinator::view_of(const Entry& e) const {
  TokenView v;
  v.id = e.record.id;
  v.user_id = e.record.user_id;
  v.state = e.record.state;
  v.seq = e.record.seq;
  v.issued_at = e.record.issued_at;
  v.active_until = e.record.active_until;
  v.spent_at = e.record.spent_at;
  if (e.record.state == TokenState::Waiting) {
    v.position = _waiting_counter.count_up_to(e.record.seq);
  }
  return v;
}

void MemoryCoordinator::enqueue_waiting(Entry& e, Timestamp now) {
  e.record.state = TokenState::Waiting;
  _waiting.emplace(e.record.seq, e.record.id);
  _waiting_counter.add(e.record.seq, 1);
  _idle_checks.emplace(now + _limits.waiting_idle_ttl, e.record.id);
}

void MemoryCoordinator::remove_waiting(Entry& e) {
  _waiting.erase(e.record.seq);
  _waiting_counter.add(e.record.seq, -1);
  if (_waiting.empty()) {
    // Nobody waits: restart the counter so that its memory follows the line, not history.
    _waiting_counter.reset(_next_seq);
  }
}

void MemoryCoordinator::activate(Entry& e, Timestamp now) {
  e.record.state = TokenState::Active;
  e.record.active_until = now + _limits.active_ttl;
  ++_active_count;
  _active_deadlines.emplace(*e.record.active_until, e.record.id);
  _admissions.push_back(now);
  _pending.push_back({e.record.id, TokenState::Active, e.record.active_until, std::nullopt});
}

void MemoryCoordinator::mark_spent(Entry& e, Timestamp spent_at) {
  if (e.record.state == TokenState::Active) {
    --_active_count;
  }
  e.record.state = TokenState::Spent;
  e.record.spent_at = spent_at;
  if (auto it = _live_by_user.find(e.record.user_id); it != _live_by_user.end() && it->second == e.record.id) {
    _live_by_user.erase(it);
  }
  _grace_ends.emplace(spent_at + _limits.spent_grace, e.record.id);
}

void MemoryCoordinator::erase_token(const std::string& id) {
  auto it = _tokens.find(id);
  if (it == _tokens.end()) {
    return;
  }
  if (auto u = _live_by_user.find(it->second.record.user_id); u != _live_by_user.end() && u->second == id) {
    _live_by_user.erase(u);
  }
  _tokens.erase(it);
}

bool MemoryCoordinator::settle(Entry& e, Timestamp now) {
  switch (e.record.state) {
    case TokenState::Waiting:
      if (e.last_poll + _limits.waiting_idle_ttl <= now) {
        remove_waiting(e);
        _pending.push_back({e.record.id, TokenState::Dropped, std::nullopt, std::nullopt});
        erase_token(e.record.id);
        return false;
      }
      return true;
    case TokenState::Active:
      if (*e.record.active_until <= now) {
        mark_spent(e, *e.record.active_until);
        _pending.push_back({e.record.id, TokenState::Spent, e.record.active_until, e.record.spent_at});
      }
      return true;
    case TokenState::Spent:
      if (*e.record.spent_at + _limits.spent_grace <= now) {
        erase_token(e.record.id);
        return false;
      }
      return true;
    case TokenState::Dropped:
      erase_token(e.record.id);
      return false;
  }
  return false;
}

IssueResult MemoryCoordinator::issue_now(TokenRecord candidate, Timestamp now) {
  std::lock_guard lock(_mutex);
  if (auto u = _live_by_user.find(candidate.user_id); u != _live_by_user.end()) {
    auto& existing = _tokens.at(u->second);
    if (settle(existing, now) && existing.record.state != TokenState::Spent) {
      existing.last_poll = now;
      return {view_of(existing), false};
    }
  }
  candidate.seq = _next_seq++;
  candidate.state = TokenState::Waiting;
  candidate.active_until.reset();
  candidate.spent_at.reset();
  const std::string id = candidate.id;
  auto [it, inserted] = _tokens.emplace(id, Entry{std::move(candidate), now});
  Entry& e = it->second;
  _live_by_user[e.record.user_id] = id;
  if (_waiting.empty() && _active_count < _limits.max_active) {
    activate(e, now);
    _pending.pop_back();  // the issue itself is stored with this state
  } else {
    enqueue_waiting(e, now);
  }
  return {view_of(e), true};
}

Task<IssueResult> MemoryCoordinator::issue(TokenRecord candidate, Timestamp now) {
  co_return issue_now(std::move(candidate), now);
}

Task<void> MemoryCoordinator::forget(std::string token_id) {
  std::lock_guard lock(_mutex);
  if (auto it = _tokens.find(token_id); it != _tokens.end()) {
    Entry& e = it->second;
    if (e.record.state == TokenState::Waiting) {
      remove_waiting(e);
    } else if (e.record.state == TokenState::Active) {
      --_active_count;
    }
    erase_token(token_id);
  }
  co_return;
}

std::optional<TokenView> MemoryCoordinator::find_now(const std::string& token_id, Timestamp now, bool poll) {
  std::lock_guard lock(_mutex);
  auto it = _tokens.find(token_id);
  if (it == _tokens.end() || !settle(it->second, now)) {
    return std::nullopt;
  }
  if (poll && it->second.record.state == TokenState::Waiting) {
    it->second.last_poll = now;
  }
  return view_of(it->second);
}

Task<std::optional<TokenView>> MemoryCoordinator::find(std::string token_id, Timestamp now, bool poll) {
  co_return find_now(token_id, now, poll);
}

void MemoryCoordinator::spend_now(const std::string& token_id, Timestamp now) {
  std::lock_guard lock(_mutex);
  auto it = _tokens.find(token_id);
  if (it != _tokens.end() && it->second.record.state == TokenState::Active) {
    mark_spent(it->second, now);  // the payment transaction already stored this state
  }
}

Task<void> MemoryCoordinator::spend(std::string token_id, Timestamp now) {
  spend_now(token_id, now);
  co_return;
}

void MemoryCoordinator::admit_head(Timestamp now) {
  while (_active_count < _limits.max_active && !_waiting.empty()) {
    auto& e = _tokens.at(_waiting.begin()->second);
    remove_waiting(e);
    activate(e, now);
  }
}

void MemoryCoordinator::prune_admissions(Timestamp now) {
  while (!_admissions.empty() && _admissions.front() + Seconds{60} <= now) {
    _admissions.pop_front();
  }
}

QueueChanges MemoryCoordinator::tick_now(Timestamp now) {
  std::lock_guard lock(_mutex);
  // Each multimap is drained only up to `now`: every entry is visited once per scheduling, so a
  // tick's work is bounded by what fell due since the last one.
  for (auto* schedule : {&_active_deadlines, &_idle_checks, &_grace_ends}) {
    while (!schedule->empty() && schedule->begin()->first <= now) {
      const auto node = schedule->extract(schedule->begin());
      auto it = _tokens.find(node.mapped());
      if (it == _tokens.end()) {
        continue;
      }
      Entry& e = it->second;
      if (schedule == &_idle_checks && e.record.state == TokenState::Waiting &&
          e.last_poll + _limits.waiting_idle_ttl > now) {
        _idle_checks.emplace(e.last_poll + _limits.waiting_idle_ttl, e.record.id);
        continue;
      }
      settle(e, now);
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
    if (t.state == TokenState::Waiting) {
      min_waiting_seq = std::min(min_waiting_seq, t.seq);
    }
  }
  _waiting_counter.reset(min_waiting_seq == std::numeric_limits<std::int64_t>::max() ? _next_seq : min_waiting_seq);
  for (auto& t : tokens) {
    const std::string id = t.id;
    auto [it, inserted] = _tokens.emplace(id, Entry{std::move(t), now});
    if (!inserted) {
      continue;
    }
    Entry& e = it->second;
    switch (e.record.state) {
      case TokenState::Waiting:
        _live_by_user[e.record.user_id] = id;
        enqueue_waiting(e, now);
        break;
      case TokenState::Active:
        _live_by_user[e.record.user_id] = id;
        ++_active_count;
        _active_deadlines.emplace(*e.record.active_until, id);
        break;
      case TokenState::Spent:
        _grace_ends.emplace(*e.record.spent_at + _limits.spent_grace, id);
        break;
      case TokenState::Dropped:
        _tokens.erase(it);
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
  prune_admissions(now);
  return {static_cast<std::int64_t>(_waiting.size()), _active_count, static_cast<std::int64_t>(_admissions.size())};
}

Task<QueueStats> MemoryCoordinator::stats(Timestamp now) { co_return stats_now(now); }

QueueLimits MemoryCoordinator::limits() const {
  std::lock_guard lock(_mutex);
  return _limits;
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

Task<std::optional<std::string>> MemoryCoordinator::cache_get(std::string key, Timestamp now) {
  std::lock_guard lock(_mutex);
  auto it = _cache.find(key);
  if (it == _cache.end() || it->second.second <= now) {
    co_return std::nullopt;
  }
  co_return it->second.first;
}

Task<void> MemoryCoordinator::cache_put(std::string key, std::string value, Timestamp expires_at) {
  std::lock_guard lock(_mutex);
  if (_cache.size() >= kMaxCacheEntries) {
    _cache.clear();
  }
  _cache[std::move(key)] = {std::move(value), expires_at};
  co_return;
}

}  // namespace concertd
