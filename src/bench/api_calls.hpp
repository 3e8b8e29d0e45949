#pragma once
// The concertd API as the bench scenarios call it: JSON answers read defensively, tokens,
// concerts, seat maps, balances, the admin queue and /metrics, and the final check of seats and
// money after a run that paid. Internal to src/bench.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "bench/http_client.hpp"
#include "bench/invariants.hpp"
#include "bench/run_context.hpp"

namespace concertd::bench {

inline constexpr std::string_view kNoBody;
/// The price of every seat of the concerts the holds and payments scenarios create.
inline constexpr std::int64_t kBenchPrice = 50'000;

// JSON answers: fields read defensively, a server answering garbage fails a step, not the bench.
std::optional<json::object> parse_object(std::string_view body);
std::int64_t int_field(const json::object& o, std::string_view key, std::int64_t fallback = 0);
std::string string_field(const json::object& o, std::string_view key);

/// The error code an answer stands for: the transport's, the body's `code`, or HTTP_<status>.
std::string code_of(const Exchange& ex);

// ---------------------------------------------------------------------------------------------
// Setup helpers shared by the scenarios.

struct TokenAnswer {
  std::string token;
  std::string status;
  std::int64_t position = 0;
  std::int64_t poll_after = 1;
};

std::string json_user_body(std::string_view user);

/// Issues a token for `user`; nullopt (with `why`) when the answer is not 201/200.
Task<std::optional<TokenAnswer>> issue_token(Shard& shard, HttpConnection& conn, std::string_view user, StepStats* step,
                                             std::string& why);

/// Creates a concert dated 2030-01-01; 0 (with `why`) on failure.
Task<std::int64_t> create_concert(Shard& shard, HttpConnection& conn, std::int64_t seats,
                                  const std::vector<std::int64_t>& prices, std::string& why);

/// The body of a hold of `seat` of `concert`.
std::string hold_body(std::int64_t concert, std::int64_t seat);

struct SeatMap {
  std::int64_t available = 0;
  std::int64_t held = 0;
  std::int64_t reserved = 0;
  std::vector<std::int64_t> available_seats;
  std::map<std::int64_t, std::int64_t> price_by_seat;
};

std::optional<SeatMap> parse_seat_map(std::string_view body);
Task<std::optional<SeatMap>> read_seat_map(Shard& shard, HttpConnection& conn, std::int64_t concert, StepStats* step);

/// The balance read at the end; nullopt when it could not be read.
Task<std::optional<std::int64_t>> read_balance(Shard& shard, HttpConnection& conn, std::string_view user);

/// GET /api/admin/queue: how many tokens are active and waiting before a rush.
Task<std::optional<json::object>> read_admin_queue(Shard& shard, HttpConnection& conn);

/// process_resident_memory_bytes from /metrics, when the server exposes it.
Task<std::optional<double>> read_server_rss(Shard& shard, HttpConnection& conn);

/// Final seat maps and balances, then the seat and money invariants.
void check_payments(Shared& shared, Shard& shard, const std::vector<std::int64_t>& concerts,
                    const std::vector<PaymentFact>& payments, const std::vector<BalanceFact>& balances, Outcome& out);

}  // namespace concertd::bench
