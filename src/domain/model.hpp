#pragma once
// The values the services and ports exchange. Plain data, no behaviour beyond naming and summing.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/time.hpp"

namespace concertd {

using Money = std::int64_t;  // whole KRW
using ConcertId = std::int64_t;

enum class SeatStatus { Available, TemporarilyAssigned, Reserved };
enum class ReservationStatus { TemporarilyAssigned, Confirmed, Cancelled, Expired };

const char* seat_status_name(SeatStatus s);                // "available", ...
const char* reservation_status_name(ReservationStatus s);  // "TEMPORARILY_ASSIGNED", ...
/// The stored spelling of a reservation status; anything else reads as TEMPORARILY_ASSIGNED.
ReservationStatus reservation_status_from(std::string_view name);

struct NewConcert {
  std::string title;
  std::string venue;
  Date date;
  std::vector<Money> prices;  // one per seat, seat numbers 1..N
  Timestamp created_at;
};

struct ConcertInfo {
  ConcertId id = 0;
  Date date;
  int seat_count = 0;
};

struct ConcertSummary {
  ConcertId id = 0;
  std::string title;
  std::string venue;
  Date date;
  std::int64_t available_seats = 0;
  Money min_price = 0;
  Money max_price = 0;
};

/// One concert's seats as an operator sees them: held now, sold, and what the sold ones earned.
struct ConcertSales {
  ConcertId id = 0;
  std::string title;
  std::string venue;
  Date date;
  std::int64_t seat_count = 0;
  std::int64_t held = 0;  // holds not past their deadline
  std::int64_t sold = 0;
  Money revenue = 0;
};

/// The whole store's sales, for the operators' dashboard: the same on every instance.
struct SalesSummary {
  std::int64_t held = 0;
  std::int64_t sold = 0;
  Money revenue = 0;
  std::int64_t released = 0;   // holds that ran out and were released, ever
  std::int64_t cancelled = 0;  // holds their fan gave back, ever
  std::int64_t concert_count = 0;
  std::vector<ConcertSales> concerts;  // the newest first, at most the asked number
};

/// Counts `concert` in the totals, and lists it while fewer than `max_listed` are (the engines
/// read concerts newest first).
inline void add_concert(SalesSummary& summary, ConcertSales concert, std::size_t max_listed) {
  summary.held += concert.held;
  summary.sold += concert.sold;
  summary.revenue += concert.revenue;
  ++summary.concert_count;
  if (summary.concerts.size() < max_listed) {
    summary.concerts.push_back(std::move(concert));
  }
}

struct SeatView {
  int number = 0;
  SeatStatus status = SeatStatus::Available;
  Money price = 0;
  bool operator==(const SeatView&) const = default;
};

struct SeatMap {
  ConcertId concert_id = 0;
  Date date;
  std::vector<SeatView> seats;
  bool operator==(const SeatMap&) const = default;
};

struct Reservation {
  std::string id;
  std::string user_id;
  ConcertId concert_id = 0;
  int seat_number = 0;
  Money price = 0;
  ReservationStatus status = ReservationStatus::TemporarilyAssigned;
  Timestamp expires_at;
};

struct BalanceView {
  std::string user_id;
  Money balance = 0;
  std::optional<Timestamp> last_updated;
};

struct ChargeReceipt {
  std::string user_id;
  Money balance_after = 0;
  Money amount = 0;
  std::string transaction_id;
};

struct PaymentReceipt {
  std::string payment_id;
  std::string reservation_id;
  ConcertId concert_id = 0;
  int seat_number = 0;
  Money amount = 0;
  Money balance_after = 0;
};

/// PreQueue: issued before the opening, waiting to be drawn a place (API.md, "Pre-queue").
enum class TokenState { Waiting, Active, Spent, Dropped, PreQueue };

/// "WAITING", "ACTIVE", "SPENT", "DROPPED", "PRE_QUEUE": how the stores spell a token state.
const char* token_state_name(TokenState s);
TokenState token_state_from(std::string_view name);

/// A queue token as stored: written when issued and when its state changes, never per poll.
struct TokenRecord {
  std::string id;
  std::string user_id;
  std::int64_t seq = 0;  // issue order, the FIFO key
  TokenState state = TokenState::Waiting;
  Timestamp issued_at;
  std::optional<Timestamp> active_until;
  std::optional<Timestamp> spent_at;
};

}  // namespace concertd
