#pragma once
// The operators' side of the line (API.md, "Waiting room for a real on-sale"): the admission
// settings, kept in the store and applied on every instance within a second, and the opening
// that draws the pre-queue's places.
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/thread_pool.hpp>

#include "domain/waiting_room.hpp"
#include "ports/clock.hpp"
#include "ports/coordinator.hpp"
#include "ports/store.hpp"

namespace concertd {

/// A POST /api/admin/queue: the fields it names, already validated. An inner nullopt clears.
struct RoomChange {
  std::optional<std::int64_t> max_active;
  std::optional<std::optional<std::int64_t>> admit_per_minute;
  std::optional<bool> paused;
  std::optional<std::optional<Timestamp>> opens_at;
};

class WaitingRoom {
 public:
  /// Placements handed to the line per call: a slice holds the event loop (in process) or Redis
  /// for a few milliseconds, so status polls are answered between slices while a large
  /// pre-queue is placed.
  static constexpr std::size_t kPlacementSlice = 1024;
  /// Places folded into token rows per tick, after the opening: each write keeps the store's
  /// writer a few milliseconds from holds and payments.
  static constexpr std::size_t kFoldPerWrite = 1024;
  static constexpr Millis kOpeningCheckEvery{20};

  /// `defaults`: the settings of a store that has none (from flags).
  WaitingRoom(Store& store, Coordinator& coordinator, const Clock& clock, RoomSettings defaults);
  WaitingRoom(const WaitingRoom&) = delete;
  WaitingRoom& operator=(const WaitingRoom&) = delete;

  /// At start: the stored settings, with the rows of `explicit_change` (flags given explicitly at
  /// this start) written over them first, so that every instance then agrees on them.
  Task<void> start(RoomChange explicit_change);
  /// Reads the store's settings and applies them to the line (every instance, twice a second).
  Task<void> refresh();
  /// Applies an operator's change: stored (only the rows it names, so that two operators
  /// changing different fields at once both win), then applied here at once.
  Task<RoomSettings> change(const RoomChange& change);
  const RoomSettings& settings() const { return _settings; }

  /// Runs a due opening: claims it, records its draw's inputs in the store, draws the order (off
  /// the event loop), places it in the line slice by slice, then folds the places into the token
  /// rows, a write every 100 ms. Called every kOpeningCheckEvery: an opening starts within that
  /// of its opensAt.
  Task<void> open_if_due();
  /// At a start: stored PRE_QUEUE tokens of the last opening, if it ran, get the place its record
  /// gives them (their rows may not have been folded yet), and the fold goes on.
  Task<void> place_restored(std::vector<TokenRecord>& tokens);

 private:
  void apply(RoomSettings settings);
  /// The record's places in drawn order (seq first_seq + k for the k-th), computed off the loop.
  Task<std::vector<PlacedToken>> draw(OpeningRecord record);
  /// Writes the next places of the fold; those whose token is not stored yet (another
  /// instance's insert still on its way) are tried again for a minute.
  Task<void> fold(Timestamp now);

  Store& _store;
  Coordinator& _coordinator;
  const Clock& _clock;
  const RoomSettings _defaults;
  RoomSettings _settings;
  struct Unfolded {
    PlacedToken placement;
    std::optional<Timestamp> unmatched_since;
  };
  std::deque<Unfolded> _unfolded;  // drawn places not yet in the token rows, in drawn order
  Timestamp _next_fold;
  Timestamp _next_claim_check;
  /// The draw hashes every id: 100,000 of them would hold the event loop for tens of ms.
  boost::asio::thread_pool _draw_thread{1};
};

}  // namespace concertd
