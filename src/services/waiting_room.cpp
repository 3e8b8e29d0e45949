#include "services/waiting_room.hpp"

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace concertd {
namespace {

namespace asio = boost::asio;

/// How long a placement whose token is not stored yet is tried again (as QueueService's changes).
constexpr Seconds kUnplacedPatience{60};
constexpr Millis kFoldEvery{100};
constexpr Seconds kClaimCheckEvery{1};

std::string describe(const RoomSettings& s) {
  return fmt::format("maxActive {}, admitPerMinute {}, paused {}, opensAt {}", s.max_active,
                     s.admit_per_minute ? std::to_string(*s.admit_per_minute) : "none", s.paused,
                     s.opens_at ? format_rfc3339(*s.opens_at) : "none");
}

Task<std::vector<PlacedToken>> draw_task(OpeningRecord record) {
  const std::vector<std::string> order = opening_order(record.seed, *record.token_ids);
  std::vector<PlacedToken> placed;
  placed.reserve(order.size());
  for (std::size_t k = 0; k < order.size(); ++k) {
    placed.push_back(PlacedToken{order[k], record.first_seq + static_cast<std::int64_t>(k)});
  }
  co_return placed;
}

}  // namespace

WaitingRoom::WaitingRoom(Store& store, Coordinator& coordinator, const Clock& clock, RoomSettings defaults)
    : _store(store), _coordinator(coordinator), _clock(clock), _defaults(defaults), _settings(defaults) {
  _coordinator.configure(_settings);
}

void WaitingRoom::apply(RoomSettings settings) {
  if (settings != _settings) {
    spdlog::info("waiting room: {}", describe(settings));
  }
  _settings = std::move(settings);
  _coordinator.configure(_settings);
}

Task<void> WaitingRoom::start(RoomChange explicit_change) { co_await change(explicit_change); }

Task<void> WaitingRoom::refresh() { apply(room_from_rows(co_await _store.load_settings(), _defaults)); }

Task<RoomSettings> WaitingRoom::change(const RoomChange& c) {
  const RoomSettings stored = room_from_rows(co_await _store.load_settings(), _defaults);
  RoomSettings next = stored;
  if (c.max_active) {
    next.max_active = *c.max_active;
  }
  if (c.admit_per_minute) {
    next.admit_per_minute = *c.admit_per_minute;
  }
  if (c.paused) {
    next.paused = *c.paused;
  }
  if (c.opens_at) {
    next.opens_at = *c.opens_at;
    if (!next.opens_at && stored.opening_pending()) {
      // Clearing an opening that has not happened opens the line now: the pre-queue is drawn
      // at once rather than left without a place.
      next.opens_at = _clock.now();
    }
  }
  // Only the rows this change moved: another operator's change of another field stands.
  const auto before = room_rows(stored);
  std::map<std::string, std::string> moved;
  for (auto& [name, value] : room_rows(next)) {
    if (const auto it = before.find(name); it == before.end() || it->second != value) {
      moved.emplace(name, std::move(value));
    }
  }
  if (!moved.empty()) {
    co_await _store.put_settings(std::move(moved));
  }
  apply(next);
  co_return next;
}

Task<std::vector<PlacedToken>> WaitingRoom::draw(OpeningRecord record) {
  auto spawned = asio::co_spawn(_draw_thread.get_executor(), draw_task(std::move(record)), asio::use_awaitable);
  co_return co_await std::move(spawned);
}

Task<void> WaitingRoom::open_if_due() {
  const Timestamp now = _clock.now();
  if (now >= _next_fold) {
    _next_fold = now + kFoldEvery;
    co_await fold(now);
  }
  // The line is asked at once when the opening is due, and once a second while any opening is
  // set: an opening whose claimer died is handed out again once its lease runs out, whatever the
  // settings say by then.
  if (!_settings.opens_at || (!_settings.opening_due(now) && now < _next_claim_check)) {
    co_return;
  }
  _next_claim_check = now + kClaimCheckEvery;
  std::optional<OpeningClaim> claim = co_await _coordinator.claim_opening(now, draw_shuffle_seed());
  if (!claim) {
    co_return;
  }
  const auto started = std::chrono::steady_clock::now();
  const RoomSettings::Claim claimed{claim->opens_at, claim->seed, claim->first_seq, claim->block_size};
  if (_settings.claim != claimed) {
    // In process nothing runs between the claim and this write's submission, so it is ordered
    // before every later arrival's insert: a restart that finds the opening undone redoes this
    // one (same seed and block), ahead of them.
    auto row = claim_rows(claimed);
    co_await _store.put_settings(std::move(row));
  }
  // The draw's inputs, kept before anyone is shown a place: every place follows from them. An
  // opening claimed again after its claimer died finds the first claimer's record.
  OpeningRecord candidate{claim->opens_at, claim->seed, claim->first_seq, claim->block_size, claim->token_ids};
  const OpeningRecord record = co_await _store.record_opening(std::move(candidate));
  std::vector<PlacedToken> placed = co_await draw(record);
  auto outcome = opening_rows(record.opens_at, now, record.seed);
  co_await _store.put_settings(std::move(outcome));
  /// Bounded by the draw: one call per slice.
  const auto executor = co_await asio::this_coro::executor;
  for (std::size_t first = 0;; first += kPlacementSlice) {
    const std::size_t end = std::min(placed.size(), first + kPlacementSlice);
    std::vector<std::string> slice;
    slice.reserve(end - first);
    for (std::size_t k = first; k < end; ++k) {
      slice.push_back(placed[k].token_id);
    }
    const bool last = end == placed.size();
    co_await _coordinator.place_opened(record.opens_at, std::move(slice),
                                       record.first_seq + static_cast<std::int64_t>(first), last, _clock.now());
    if (last) {
      break;
    }
    co_await asio::post(executor, asio::use_awaitable);  // requests waiting for the loop go first
  }
  const auto took = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started);
  spdlog::info("opening of {}: {} pre-queue tokens placed in {} ms, shuffle seed {}", format_rfc3339(record.opens_at),
               placed.size(), took.count(), record.seed);
  for (auto& p : placed) {
    _unfolded.push_back(Unfolded{std::move(p), std::nullopt});
  }
  co_await refresh();
}

Task<void> WaitingRoom::place_restored(std::vector<TokenRecord>& tokens) {
  const bool any =
      std::any_of(tokens.begin(), tokens.end(), [](const TokenRecord& t) { return t.state == TokenState::PreQueue; });
  if (!any || !_settings.opened_for) {
    co_return;
  }
  std::optional<OpeningRecord> record = co_await _store.last_opening();
  if (!record || record->opens_at != *_settings.opened_for) {
    co_return;
  }
  std::unordered_map<std::string, std::int64_t> seq_of;
  for (PlacedToken& p : co_await draw(std::move(*record))) {
    seq_of.emplace(std::move(p.token_id), p.seq);
  }
  std::size_t placed = 0;
  for (TokenRecord& t : tokens) {
    const auto it = t.state == TokenState::PreQueue ? seq_of.find(t.id) : seq_of.end();
    if (it != seq_of.end()) {
      t.state = TokenState::Waiting;
      t.seq = it->second;
      _unfolded.push_back(Unfolded{PlacedToken{t.id, t.seq}, std::nullopt});
      ++placed;
    }
  }
  spdlog::info("{} stored pre-queue tokens take the places drawn at the opening of {}", placed,
               format_rfc3339(*_settings.opened_for));
}

Task<void> WaitingRoom::fold(Timestamp now) {
  if (_unfolded.empty()) {
    co_return;
  }
  const std::size_t count = std::min(_unfolded.size(), kFoldPerWrite);
  std::vector<PlacedToken> batch;
  batch.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    batch.push_back(_unfolded[i].placement);
  }
  const std::vector<std::size_t> unmatched = co_await _store.place_tokens(std::move(batch));
  // The written ones leave; one whose token is not stored yet goes to the back for a later try.
  std::vector<Unfolded> retry;
  for (const std::size_t i : unmatched) {
    Unfolded& u = _unfolded.at(i);
    if (!u.unmatched_since) {
      u.unmatched_since = now;
    }
    if (now - *u.unmatched_since > kUnplacedPatience) {
      spdlog::warn("token {}: its place {} matched no stored token for {} s; dropped", u.placement.token_id,
                   u.placement.seq, kUnplacedPatience.count());
      continue;
    }
    retry.push_back(std::move(u));
  }
  _unfolded.erase(_unfolded.begin(), _unfolded.begin() + static_cast<std::ptrdiff_t>(count));
  std::move(retry.begin(), retry.end(), std::back_inserter(_unfolded));
}

}  // namespace concertd
