#pragma once
// The waiting room of a real on-sale (API.md, "Waiting room for a real on-sale"): the operators'
// admission settings, the outflow budget that spreads admissions evenly over the minute, and the
// opening's draw that places the pre-queue in a random order anyone can recompute.
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/time.hpp"

namespace concertd {

/// Bounds of the operators' settings (POST /api/admin/queue).
inline constexpr std::int64_t kMaxActiveLimit = 1'000'000;
inline constexpr std::int64_t kAdmitPerMinuteLimit = 1'000'000;

/// The admission settings every instance applies, kept in the store so that they outlive
/// restarts, plus what the last opening published.
struct RoomSettings {
  explicit RoomSettings(std::int64_t max_active_ = 100) : max_active(max_active_) {}

  std::int64_t max_active = 100;
  std::optional<std::int64_t> admit_per_minute;  // none: no cap
  bool paused = false;
  std::optional<Timestamp> opens_at;  // the pre-queue lasts until then
  /// The opening done last: the opensAt it was for, when it ran, and its published seed.
  std::optional<Timestamp> opened_for;
  std::optional<Timestamp> opened_at;
  std::optional<std::string> shuffle_seed;
  /// The opening claimed last, recorded before its draw: a start that finds it claimed but not
  /// done finishes it with the same seed and block of places, still ahead of whoever arrived
  /// after the claim (their seqs lie beyond the block).
  struct Claim {
    Timestamp opens_at;
    std::string seed;
    std::int64_t first_seq = 0;
    std::int64_t block_size = 0;
    bool operator==(const Claim&) const = default;
  };
  std::optional<Claim> claim;

  bool operator==(const RoomSettings&) const = default;

  /// An opening is set and not done: new tokens join the pre-queue until the line claims it (so a
  /// fan arriving between opensAt and the tick that claims the opening is drawn with the others).
  bool opening_pending() const { return opens_at && opened_for != opens_at; }
  /// The opening of `opens_at` is due and not done.
  bool opening_due(Timestamp now) const { return opens_at && *opens_at <= now && opened_for != opens_at; }
};

/// The settings as stored rows (name -> value) and back. Names start with "room.". A row that
/// does not parse keeps the default: the store is ours, but a hand edit must not stop a start.
std::map<std::string, std::string> room_rows(const RoomSettings& settings);
RoomSettings room_from_rows(const std::map<std::string, std::string>& rows, const RoomSettings& defaults);
/// The rows of the opening's outcome alone (what the opening writes with its placement).
std::map<std::string, std::string> opening_rows(Timestamp opened_for, Timestamp opened_at, const std::string& seed);
/// The row of a claimed opening.
std::map<std::string, std::string> claim_rows(const RoomSettings::Claim& claim);

/// The outflow cap's budget: a token bucket filled at admit_per_minute, holding at most a tenth
/// of a second's worth (at least one admission), so that admissions are spread evenly over the
/// minute instead of a minute's worth at once. Credit is counted in 1/60000 of an admission so
/// that the refill per millisecond is the integer `admit_per_minute`. The Redis scripts keep the
/// same arithmetic in lib.lua (budget_take) for the cluster's one shared budget.
struct AdmissionBudget {
  static constexpr std::int64_t kUnit = 60'000;  // credit of one admission
  static constexpr std::int64_t kBurstMillis = 100;

  std::int64_t credit = -1;  // -1: never used, starts full
  std::int64_t refilled_at_ms = 0;

  static std::int64_t capacity(std::int64_t per_minute) { return std::max(kUnit, per_minute * kBurstMillis); }
  /// Takes one admission's credit at `now` if there is one.
  bool take(std::int64_t now_ms, std::int64_t per_minute);
};

/// The opening's draw: the pre-queue token ids in placement order. Each id is ranked by
/// SHA-256 of "<seed>:<id>" (lowest first; ties, never seen, by id): a uniformly random order
/// once the seed is drawn after the set is closed, and recomputable by anyone from the published
/// seed and the ids (scripts/audit-opening.py).
std::vector<std::string> opening_order(std::string_view seed, std::vector<std::string> ids);

/// An opening record's ids as stored: one per line (no token id holds a newline), and back.
std::string join_token_ids(const std::vector<std::string>& ids);
std::vector<std::string> split_token_ids(std::string_view text);

/// A fresh seed: 256 bits from the CSPRNG as 64 hex digits.
std::string draw_shuffle_seed();

}  // namespace concertd
