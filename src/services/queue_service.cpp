#include "services/queue_service.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "domain/errors.hpp"
#include "domain/random.hpp"

namespace concertd {
namespace {

/// 128 random bits (the contract asks for at least that), in 22 characters after the 12 of the
/// time. The token a fan presents carries this id in its signed payload, and every status poll
/// carries the token: each character counts (a 104-byte longer request cost the status path 4.5%).
constexpr std::size_t kTokenBytes = 16;
/// A tick writes at most this many new token changes at once; the rest wait for the next tick.
constexpr std::size_t kMaxChangesPerWrite = 4096;
static_assert(kMaxChangesPerWrite >= kMaxTickChanges, "one write takes a whole tick's changes");
/// How long a change whose token is not stored is tried again. Another instance's insert commits
/// within its store's own bounded waits, far below this; a token that is still missing after it
/// was never stored (its issue failed and was taken back) or has been purged.
constexpr Seconds kUnmatchedPatience{60};
/// The settings row that keeps generated token keys ("id:secret,...").
constexpr const char* kTokenKeysSetting = "token_keys";

}  // namespace

QueueService::QueueService(Store& store, Coordinator& coordinator, const Clock& clock, const ServiceConfig& config,
                           WaitingRoom& room)
    : _store(store), _coordinator(coordinator), _clock(clock), _config(config), _room(room) {}

Task<void> QueueService::load_token_keys(std::optional<std::vector<TokenKey>> given) {
  if (!given) {
    std::string name = kTokenKeysSetting;  // no temporary inside co_await (GCC 12)
    std::string fresh = format_token_keys({make_token_key()});
    const std::string stored = co_await _store.claim_setting(std::move(name), std::move(fresh));
    auto parsed = parse_token_keys(stored);
    if (const auto* problem = std::get_if<std::string>(&parsed)) {
      throw std::runtime_error("the store's token keys do not parse: " + *problem);
    }
    given = std::get<std::vector<TokenKey>>(std::move(parsed));
  }
  _signer.emplace(std::move(*given));
  ++_keys_generation;
  spdlog::info("queue tokens signed with key {}", _signer->signing_key_id());
}

WaitEstimate QueueService::estimate(std::int64_t position, const QueueStats& stats) const {
  const RoomSettings& room = _room.settings();
  return estimate_wait(position, QueuePace{stats.admitted_last_minute, room.max_active, _config.active_ttl,
                                           _config.waiting_idle_ttl, room.admit_per_minute});
}

std::string QueueService::verified_id(std::string_view token, VerifiedTokenMemo* memo) const {
  // Constant time although both sides came over this connection: behind a pooling proxy one
  // connection carries many fans' tokens, and an early exit would time one against another.
  if (memo != nullptr && memo->keys_generation == _keys_generation && !token.empty() &&
      constant_time_equal(memo->token, token)) {
    return memo->token_id;
  }
  auto claims = _signer ? _signer->verify(token) : std::nullopt;
  if (!claims) {
    throw ClientError(Refusal::InvalidToken);
  }
  if (memo != nullptr) {
    memo->token.assign(token);
    memo->token_id = claims->token_id;
    memo->user_id = claims->user_id;
    memo->keys_generation = _keys_generation;
  }
  return std::move(claims->token_id);
}

QueueTicket QueueService::ticket_of(const TokenView& token, bool created,
                                    const std::optional<QueueStats>& stats) const {
  QueueTicket ticket{token, {}, created, std::nullopt, std::nullopt, 1};
  if (token.state == TokenState::Waiting) {
    ticket.wait = estimate(token.position, stats.value());
  } else if (token.state == TokenState::PreQueue) {
    // While the opening is placed, opensAt has passed: come back in a second.
    const Timestamp now = _clock.now();
    ticket.opens_at = _room.settings().opens_at.value_or(now);
    ticket.pre_queue_poll_seconds = pre_queue_poll_seconds(now, *ticket.opens_at, _config.waiting_idle_ttl);
  }
  return ticket;
}

Task<QueueTicket> QueueService::issue(const std::string& user_id) {
  const Timestamp now = _clock.now();
  TokenRecord candidate;
  candidate.id = time_ordered_token(now, kTokenBytes);
  candidate.user_id = user_id;
  candidate.issued_at = now;
  IssueResult result = co_await _coordinator.issue(candidate, now);
  if (result.created) {
    // The seq is the coordinator's; the store keeps it so that a restart rebuilds the same line.
    TokenRecord stored = candidate;
    stored.seq = result.token.seq;
    stored.state = result.token.state;
    stored.active_until = result.token.active_until;
    std::exception_ptr failure;
    try {
      co_await _store.save_token(stored);
    } catch (...) {
      failure = std::current_exception();
    }
    if (failure) {
      co_await _coordinator.forget(candidate.id);
      std::rethrow_exception(failure);
    }
  }
  std::optional<QueueStats> stats;
  if (result.token.state == TokenState::Waiting) {
    stats = co_await _coordinator.stats(now);
  }
  QueueTicket ticket = ticket_of(result.token, result.created, stats);
  // Signed on every issue, a repeated one too: a fan whose token was signed with a retired key
  // (or came before tokens were signed) gets the same place back under the current key.
  ticket.signed_token =
      _signer.value().sign(TokenClaims{result.token.id, result.token.user_id, result.token.issued_at, {}});
  co_return ticket;
}

Task<QueueTicket> QueueService::status(std::string_view token, VerifiedTokenMemo* memo) {
  const Timestamp now = _clock.now();
  std::string id = verified_id(token, memo);  // no temporary inside co_await (GCC 12)
  const Coordinator::Poll poll = co_await _coordinator.poll(std::move(id), now);
  if (!poll.token || poll.token->state == TokenState::Spent) {
    throw ClientError(Refusal::InvalidToken);
  }
  co_return ticket_of(*poll.token, false, poll.stats);
}

Task<TokenView> QueueService::authenticate(std::string_view token, TokenUse use, const std::string* acting_user,
                                           VerifiedTokenMemo* memo) {
  std::string id = verified_id(token, memo);
  auto view = co_await _coordinator.find(std::move(id), _clock.now(), false);
  if (!view) {
    throw ClientError(Refusal::InvalidToken);
  }
  if (view->state == TokenState::Spent && use != TokenUse::Grace) {
    throw ClientError(Refusal::InvalidToken);
  }
  if (acting_user && *acting_user != view->user_id) {
    throw ClientError(Refusal::OtherUsersToken);
  }
  co_return *view;
}

void QueueService::require_admitted(const TokenView& token) const {
  if (token.state == TokenState::Waiting) {
    throw ClientError(Refusal::StillWaiting, {{"position", token.position}});
  }
  if (token.state == TokenState::PreQueue) {
    throw ClientError(Refusal::NotOpenYet, {{"position", 0}});
  }
}

Task<void> QueueService::tick() {
  const Timestamp now = _clock.now();
  QueueChanges fresh = co_await _coordinator.tick(now);
  for (TokenChange& change : fresh.changes) {
    _unsaved.push_back(UnsavedChange{std::move(change), std::nullopt});
  }
  if (fresh.line_lost) {
    // Whatever this instance still has to write goes first, so the store is as new as it gets.
    // A change whose token is not stored yet is not kept: the line is rebuilt from the store.
    for (std::size_t first = 0; first < _unsaved.size(); first += kMaxChangesPerWrite) {
      co_await _store.update_tokens(unsaved_changes(first, std::min(_unsaved.size(), first + kMaxChangesPerWrite)));
    }
    _unsaved.clear();
    spdlog::warn("the shared waiting line was lost; restoring it from the store");
    co_await restore();
    co_return;
  }
  try {
    co_await save_changes(now);
  } catch (const std::exception& e) {
    spdlog::warn("token state changes not stored yet ({} pending): {}", _unsaved.size(), e.what());
  }
}

std::vector<TokenChange> QueueService::unsaved_changes(std::size_t first, std::size_t end) const {
  std::vector<TokenChange> changes;
  changes.reserve(end - first);
  for (std::size_t i = first; i < end; ++i) {
    changes.push_back(_unsaved[i].change);
  }
  return changes;
}

Task<void> QueueService::save_changes(Timestamp now) {
  if (_unsaved.empty()) {
    co_return;
  }
  // The changes held back for their tokens come first, then at most a write's worth of others,
  // so that held-back ones never keep the rest waiting.
  const auto held_back = static_cast<std::size_t>(
      std::find_if(_unsaved.begin(), _unsaved.end(), [](const UnsavedChange& u) { return !u.unmatched_since; }) -
      _unsaved.begin());
  const std::size_t count = std::min(_unsaved.size(), held_back + kMaxChangesPerWrite);
  const std::vector<std::size_t> unmatched = co_await _store.update_tokens(unsaved_changes(0, count));
  // The written ones leave; an unmatched one stays where it was, ahead of every later change, so
  // that a token's changes still reach the store in the order the line made them.
  std::vector<UnsavedChange> kept;
  for (const std::size_t i : unmatched) {
    UnsavedChange& u = _unsaved.at(i);
    if (!u.unmatched_since) {
      u.unmatched_since = now;
    }
    if (now - *u.unmatched_since > kUnmatchedPatience) {
      spdlog::warn("token {}: its {} change matched no stored token for {} s; dropped", u.change.token_id,
                   token_state_name(u.change.state), kUnmatchedPatience.count());
      continue;
    }
    kept.push_back(std::move(u));
  }
  _unsaved.erase(_unsaved.begin(), _unsaved.begin() + static_cast<std::ptrdiff_t>(count));
  _unsaved.insert(_unsaved.begin(), std::make_move_iterator(kept.begin()), std::make_move_iterator(kept.end()));
}

Task<void> QueueService::restore() {
  const Timestamp now = _clock.now();
  auto tokens = co_await _store.load_live_tokens(now - _config.hold_ttl);
  co_await _room.place_restored(tokens);
  spdlog::info("restoring {} live queue tokens", tokens.size());
  co_await _coordinator.restore(std::move(tokens), now);
}

Task<QueueStats> QueueService::stats() { co_return co_await _coordinator.stats(_clock.now()); }

}  // namespace concertd
