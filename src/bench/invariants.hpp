#pragma once
// The invariants a bench run checks, as pure functions over what it recorded: no seat sold
// twice, money conserved, FIFO admission. No I/O, so that each check is unit-tested with
// synthetic runs that break it.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace concertd::bench {

/// An acknowledged payment (200) as the client saw it.
struct PaymentFact {
  std::string user_id;
  std::int64_t concert_id = 0;
  std::int64_t seat_number = 0;
  std::int64_t amount = 0;
};

/// The final seat map of a concert: price per seat number and how many seats are `reserved`.
/// `exclusive`: the bench created the concert and nobody else used it, so that every reserved
/// seat must be one of the payments it saw.
struct SeatMapFact {
  std::int64_t concert_id = 0;
  bool exclusive = false;
  std::int64_t reserved = 0;
  std::map<std::int64_t, std::int64_t> price_by_seat;
};

/// One user's money: what was acknowledged to it and the balance read at the end.
struct BalanceFact {
  std::string user_id;
  std::int64_t charged = 0;
  std::int64_t paid = 0;
  std::int64_t final_balance = 0;
};

/// One answer about a token (the issue or a status poll). Times are microseconds from the start
/// of the run, taken on the client when the request was sent and when the answer arrived.
struct QueueObservation {
  std::int64_t sent_us = 0;
  std::int64_t received_us = 0;
  bool active = false;
  std::int64_t position = 0;  ///< when waiting
};

/// A fan's token: when it was asked for and answered, and every later status answer in order.
/// `dropped`: the server answered 401 at some point (the token was dropped or spent), so FIFO
/// says nothing about it from then on and the fan is skipped as "A".
struct TokenFact {
  std::string user_id;
  std::int64_t issue_sent_us = 0;
  std::int64_t issue_received_us = 0;
  bool dropped = false;
  std::vector<QueueObservation> observations;  ///< the issue answer first
};

struct Violation {
  std::string invariant;  ///< "seat_sold_twice", "reserved_count", "price", "balance", "fifo", "position"
  std::string detail;
};

struct InvariantReport {
  std::int64_t checks = 0;
  std::vector<Violation> violations;
  bool ok() const { return violations.empty(); }
};

/// (1) Every payment's (concert, seat) is unique; each exclusive concert has exactly as many
/// reserved seats as payments were acknowledged for it; each payment's amount is its seat's
/// price on the map (when the map of its concert is known).
void check_seats(const std::vector<PaymentFact>& payments, const std::vector<SeatMapFact>& maps,
                 InvariantReport& report);

/// (2) For each user: final balance == charged - paid, and >= 0.
void check_money(const std::vector<BalanceFact>& balances, InvariantReport& report);

/// (3) FIFO admission: if A's token was answered before B's was asked for, and B was seen
/// active in an answer received at t, no status answer to a request of A sent after t says
/// waiting. And a waiting token's position never grows from one answer to the next.
void check_fifo(const std::vector<TokenFact>& tokens, InvariantReport& report);

/// Stops adding details past this many violations (the count of checks goes on).
inline constexpr std::size_t kMaxViolations = 100;

}  // namespace concertd::bench
