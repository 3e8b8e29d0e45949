#include "services/waiting_room.hpp"

#include <chrono>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace concertd {
namespace {

namespace asio = boost::asio;

/// How long a placement whose token is not stored yet is tried again (as QueueService's changes).
constexpr Seconds kUnplacedPatience{60};

std::string describe(const RoomSettings& s) {
  return fmt::format("maxActive {}, admitPerMinute {}, paused {}, opensAt {}", s.max_active,
                     s.admit_per_minute ? std::to_string(*s.admit_per_minute) : "none", s.paused,
                     s.opens_at ? format_rfc3339(*s.opens_at) : "none");
}

Task<std::vector<std::string>> draw_task(std::string seed, std::vector<std::string> ids) {
  co_return opening_order(seed, std::move(ids));
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

Task<std::vector<std::string>> WaitingRoom::draw(std::string seed, std::vector<std::string> ids) {
  auto spawned = asio::co_spawn(_draw_thread.get_executor(), draw_task(std::move(seed), std::move(ids)),
                                asio::use_awaitable);
  co_return co_await std::move(spawned);
}

Task<void> WaitingRoom::open_if_due() {
  const Timestamp now = _clock.now();
  co_await store_unplaced(now);
  // Asked whenever an opening is set, not only when due: an opening whose claimer died is
  // handed out again by the line once its lease runs out, whatever the settings say by then.
  if (!_settings.opens_at) {
    co_return;
  }
  std::optional<OpeningClaim> claim = co_await _coordinator.claim_opening(now, draw_shuffle_seed());
  if (!claim) {
    co_return;
  }
  const auto started = std::chrono::steady_clock::now();
  if (_settings.claim != RoomSettings::Claim{claim->opens_at, claim->seed, claim->first_seq, claim->block_size}) {
    // Recorded before the draw. In process nothing runs between the claim and this write's
    // submission, so it is ordered before every later arrival's insert: a restart that finds the
    // opening undone redoes this one, with the same seed and block, ahead of them.
    auto record = claim_rows(RoomSettings::Claim{claim->opens_at, claim->seed, claim->first_seq, claim->block_size});
    co_await _store.put_settings(std::move(record));
  }
  const std::size_t count = claim->token_ids.size();
  const std::vector<std::string> order = co_await draw(claim->seed, std::move(claim->token_ids));
  std::vector<PlacedToken> placed;
  placed.reserve(order.size());
  for (std::size_t k = 0; k < order.size(); ++k) {
    placed.push_back(PlacedToken{order[k], claim->first_seq + static_cast<std::int64_t>(k)});
  }
  // Stored before any place is shown: a restart keeps the order that fans were told.
  const std::vector<std::size_t> unmatched =
      co_await _store.open_line(placed, opening_rows(claim->opens_at, now, claim->seed));
  for (const std::size_t i : unmatched) {
    _unplaced.push_back(Unplaced{placed.at(i), now});
  }
  /// Bounded by the draw: one call per slice.
  const auto executor = co_await asio::this_coro::executor;
  for (std::size_t first = 0;; first += kPlacementSlice) {
    const std::size_t end = std::min(order.size(), first + kPlacementSlice);
    std::vector<std::string> slice(order.begin() + static_cast<std::ptrdiff_t>(first),
                                   order.begin() + static_cast<std::ptrdiff_t>(end));
    const bool last = end == order.size();
    co_await _coordinator.place_opened(claim->opens_at, std::move(slice),
                                       claim->first_seq + static_cast<std::int64_t>(first), last, _clock.now());
    if (last) {
      break;
    }
    co_await asio::post(executor, asio::use_awaitable);  // requests waiting for the loop go first
  }
  const auto took = std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - started);
  spdlog::info("opening of {}: {} pre-queue tokens placed in {} ms, shuffle seed {}", format_rfc3339(claim->opens_at),
               count, took.count(), claim->seed);
  co_await refresh();
}

Task<void> WaitingRoom::store_unplaced(Timestamp now) {
  if (_unplaced.empty()) {
    co_return;
  }
  std::vector<PlacedToken> retry;
  retry.reserve(_unplaced.size());
  for (const Unplaced& u : _unplaced) {
    retry.push_back(u.placement);
  }
  const std::vector<std::size_t> unmatched = co_await _store.open_line(retry, {});
  std::vector<Unplaced> kept;
  for (const std::size_t i : unmatched) {
    Unplaced& u = _unplaced.at(i);
    if (now - u.since > kUnplacedPatience) {
      spdlog::warn("token {}: its place {} matched no stored token for {} s; dropped", u.placement.token_id,
                   u.placement.seq, kUnplacedPatience.count());
      continue;
    }
    kept.push_back(std::move(u));
  }
  _unplaced = std::move(kept);
}

}  // namespace concertd
