#include "adapters/postgres/pg_store.hpp"

#include <algorithm>
#include <chrono>
#include <string_view>
#include <utility>

#include <spdlog/spdlog.h>

#include "adapters/postgres/batcher.hpp"
#include "adapters/postgres/pg_pool.hpp"
#include "adapters/postgres/sql.hpp"
#include "domain/assert.hpp"
#include "domain/errors.hpp"
#include "domain/waiting_room.hpp"

namespace concertd::postgres {

const std::vector<std::pair<std::string_view, std::string_view>>& migrations();  // generated

namespace {

/// Every query's limit: a statement that takes longer closes its connection and answers 503
/// (PQcancel would block the event loop).
constexpr Millis kQueryTimeout = kStoreStatementTimeout;
/// Instances starting together wait for each other's migrations this long at most.
constexpr Millis kMigrationTimeout{120'000};
/// A deadlock or serialization failure rolled the whole operation back: rerun it a few times.
constexpr int kMaxAttempts = 3;
constexpr int kPurgeBatch = 1000;

std::string num(std::int64_t v) { return std::to_string(v); }
std::string num(Timestamp t) { return std::to_string(to_millis(t)); }

std::optional<std::int64_t> optional_millis(const std::optional<Timestamp>& t) {
  return t ? std::optional<std::int64_t>(to_millis(*t)) : std::nullopt;
}

std::optional<Timestamp> optional_time(const std::optional<std::int64_t>& v) {
  return v ? std::optional<Timestamp>(from_millis(*v)) : std::nullopt;
}

/// Appends one element of a PostgreSQL array literal, quoted, so that no value can change the
/// array's shape.
void append_quoted(std::string& out, std::string_view value) {
  out += '"';
  for (const char c : value) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += '"';
}

/// A PostgreSQL array literal of text; nullopt is NULL.
std::string text_array(const std::vector<std::optional<std::string>>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    if (values[i]) {
      append_quoted(out, *values[i]);
    } else {
      out += "NULL";
    }
  }
  out += '}';
  return out;
}

std::string text_array(const std::vector<std::string>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    append_quoted(out, values[i]);
  }
  out += '}';
  return out;
}

std::string bigint_array(const std::vector<std::optional<std::int64_t>>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    out += values[i] ? std::to_string(*values[i]) : std::string("NULL");
  }
  out += '}';
  return out;
}

/// Reads the columns of sql::kReservationById / kReleaseExpired from `first`.
Reservation reservation_from_row(const Result& r, int row, int first) {
  Reservation out;
  out.id = r.text(row, first);
  out.user_id = r.text(row, first + 1);
  out.concert_id = r.integer(row, first + 2);
  out.seat_number = static_cast<int>(r.integer(row, first + 3));
  out.price = r.integer(row, first + 4);
  out.status = reservation_status_from(r.text(row, first + 5));
  out.expires_at = from_millis(r.integer(row, first + 6));
  return out;
}

/// The rel_* columns (id, user, concert, seat, price, expires) of a function that may have
/// released a stale hold on its way.
std::optional<Reservation> released_from_row(const Result& r, int row, int first) {
  if (r.is_null(row, first)) {
    return std::nullopt;
  }
  Reservation out;
  out.id = r.text(row, first);
  out.user_id = r.text(row, first + 1);
  out.concert_id = r.integer(row, first + 2);
  out.seat_number = static_cast<int>(r.integer(row, first + 3));
  out.price = r.integer(row, first + 4);
  out.status = ReservationStatus::Expired;
  out.expires_at = from_millis(r.integer(row, first + 5));
  return out;
}

std::optional<std::string> stamp_field(const std::optional<IdempotencyStamp>& stamp,
                                       std::string IdempotencyStamp::*field) {
  return stamp ? std::optional<std::string>((*stamp).*field) : std::nullopt;
}

/// One statement, one transaction: rerun when the database rolled it back for a deadlock.
Task<Result> query(std::shared_ptr<Pool> pool, const sql::Statement& statement, Params params) {
  for (int attempt = 1;; ++attempt) {
    Lease lease = co_await pool->acquire();
    try {
      Result result = co_await lease->run(statement, params, kQueryTimeout);
      co_return result;
    } catch (const PgError& e) {
      if (!e.retriable() || attempt >= kMaxAttempts) {
        throw;
      }
      spdlog::info("postgres: {} rolled back ({}), attempt {}", statement.name, e.what(), attempt);
    }
  }
}

/// Exactly one row: the functions always return one.
const Result& one_row(const Result& r, const char* what) {
  if (r.rows() != 1) {
    throw std::runtime_error(std::string("postgres: ") + what + " returned " + std::to_string(r.rows()) + " rows");
  }
  return r;
}

/// The outcomes of a batch call, one row per request in order. The call has committed when it
/// returns: the stale holds its rows released (rel_* columns from `released_column`) are told now.
template <class Request, class Outcome>
std::vector<Outcome> batch_outcomes(const Result& r, const std::vector<Request>& requests, int released_column,
                                    const ReleaseListener& on_release,
                                    Outcome (*from_row)(const Result&, int, const Request&)) {
  // The batch functions return one row per request by construction (a join on the request
  // array's ordinality); the call has committed, so a mismatch is a bug, not a retryable failure.
  CONCERTD_ASSERT(r.rows() == static_cast<int>(requests.size()), "a batch call returns one row per request");
  std::vector<Outcome> outcomes;
  outcomes.reserve(requests.size());
  for (int row = 0; row < r.rows(); ++row) {
    if (const auto stale = released_from_row(r, row, released_column); stale && on_release) {
      on_release(*stale);
    }
    outcomes.push_back(from_row(r, row, requests[static_cast<std::size_t>(row)]));
  }
  return outcomes;
}

/// Holds contend on seat rows and every one commits: they go to the database in batches. One
/// batch at a time per instance measured best on two cores (`concertd bench holds`, 64 clients:
/// 5,100-6,700 holds/s with one, 4,200-5,800 with two, 3,400 with eight): the batch grows instead
/// of a second backend competing for the same cores.
constexpr std::size_t kMaxHoldBatch = 64;
constexpr std::size_t kHoldBatchesInFlight = 1;
constexpr std::size_t kMaxWaitingHolds = 4096;

HoldOutcome hold_outcome_from_row(const Result& r, int row, const HoldRequest& req) {
  using Kind = HoldOutcome::Kind;
  const std::string kind = r.text(row, 0);
  HoldOutcome out;
  if (kind == "HELD") {
    out.kind = Kind::Held;
    out.reservation = Reservation{req.reservation_id, req.user_id,       req.concert_id,
                                  req.seat_number,    r.integer(row, 1), ReservationStatus::TemporarilyAssigned,
                                  req.expires_at};
  } else if (kind == "CONCERT_NOT_FOUND") {
    out.kind = Kind::ConcertNotFound;
  } else if (kind == "SEAT_NOT_FOUND") {
    out.kind = Kind::SeatNotFound;
  } else if (kind == "HOLD_LIMIT_EXCEEDED") {
    out.kind = Kind::HoldLimitExceeded;
  } else if (kind == "ALREADY_ASSIGNED") {
    out.kind = Kind::AlreadyAssigned;
    if (!r.is_null(row, 2)) {
      out.own_reservation_id = r.text(row, 2);
    }
  } else {
    throw std::runtime_error("postgres: hold_seats: unknown outcome " + kind);
  }
  return out;
}

/// One batch of holds, one call. The batch is decided at the latest of its requests' clocks.
Task<std::vector<HoldOutcome>> hold_batch(std::shared_ptr<Pool> pool, ReleaseListener on_release,
                                          const std::vector<HoldRequest>& requests) {
  std::vector<std::string> ids;
  std::vector<std::string> users;
  std::vector<std::optional<std::int64_t>> concerts;
  std::vector<std::optional<std::int64_t>> seats;
  std::vector<std::optional<std::int64_t>> expires;
  std::vector<std::optional<std::int64_t>> max_holds;
  Timestamp now = requests.front().now;
  for (const HoldRequest& req : requests) {
    ids.push_back(req.reservation_id);
    users.push_back(req.user_id);
    concerts.emplace_back(req.concert_id);
    seats.emplace_back(req.seat_number);
    expires.emplace_back(to_millis(req.expires_at));
    max_holds.emplace_back(req.max_holds_per_user);
    now = std::max(now, req.now);
  }
  Params params{
      text_array(ids),         text_array(users), bigint_array(concerts), bigint_array(seats), bigint_array(expires),
      bigint_array(max_holds), num(now)};
  const Result r = co_await query(pool, sql::kHoldSeats, std::move(params));
  co_return batch_outcomes(r, requests, 3, on_release, hold_outcome_from_row);
}

/// A write to the tokens table: a new token, or state changes of stored ones. Both go through one
/// ordered batcher (one batch at a time) so that a change never reaches the database before the
/// insert of its token made by this instance. A ticket opening issues tokens in a burst, and each
/// commits before its 201.
struct TokenWrite {
  std::optional<TokenRecord> insert;
  std::vector<TokenChange> changes;
};
/// Positions in TokenWrite::changes that matched no stored token (see Store::update_tokens).
using UnmatchedChanges = std::vector<std::size_t>;
constexpr std::size_t kMaxTokenBatch = 256;
constexpr std::size_t kTokenBatchesInFlight = 1;
constexpr std::size_t kMaxWaitingTokens = 8192;

Task<std::vector<UnmatchedChanges>> token_batch(std::shared_ptr<Pool> pool, const std::vector<TokenWrite>& writes) {
  std::vector<std::string> ids;
  std::vector<std::string> users;
  std::vector<std::optional<std::int64_t>> seqs;
  std::vector<std::string> states;
  std::vector<std::optional<std::int64_t>> issued_at;
  std::vector<std::optional<std::int64_t>> active_until;
  std::vector<std::optional<std::int64_t>> spent_at;
  std::vector<std::string> changed_ids;
  std::vector<std::string> changed_states;
  std::vector<std::optional<std::int64_t>> changed_active_until;
  std::vector<std::optional<std::int64_t>> changed_spent_at;
  std::vector<std::pair<std::size_t, std::size_t>> change_origin;  // (write, position in its changes)
  for (std::size_t write = 0; write < writes.size(); ++write) {
    const TokenWrite& w = writes[write];
    if (const auto& t = w.insert) {
      ids.push_back(t->id);
      users.push_back(t->user_id);
      seqs.emplace_back(t->seq);
      states.emplace_back(token_state_name(t->state));
      issued_at.emplace_back(to_millis(t->issued_at));
      active_until.push_back(optional_millis(t->active_until));
      spent_at.push_back(optional_millis(t->spent_at));
    }
    for (std::size_t position = 0; position < w.changes.size(); ++position) {
      const TokenChange& c = w.changes[position];
      change_origin.emplace_back(write, position);
      changed_ids.push_back(c.token_id);
      changed_states.emplace_back(token_state_name(c.state));
      changed_active_until.push_back(optional_millis(c.active_until));
      changed_spent_at.push_back(optional_millis(c.spent_at));
    }
  }
  Params params{text_array(ids),
                text_array(users),
                bigint_array(seqs),
                text_array(states),
                bigint_array(issued_at),
                bigint_array(active_until),
                bigint_array(spent_at),
                text_array(changed_ids),
                text_array(changed_states),
                bigint_array(changed_active_until),
                bigint_array(changed_spent_at)};
  const Result r = co_await query(pool, sql::kStoreTokens, std::move(params));
  std::vector<UnmatchedChanges> unmatched(writes.size());
  // Positions in ascending order, each once, whatever order the rows came in.
  std::vector<std::size_t> positions;
  positions.reserve(static_cast<std::size_t>(r.rows()));
  for (int row = 0; row < r.rows(); ++row) {
    positions.push_back(static_cast<std::size_t>(r.integer(row, 0) - 1));
  }
  std::sort(positions.begin(), positions.end());
  positions.erase(std::unique(positions.begin(), positions.end()), positions.end());
  for (const std::size_t p : positions) {
    const auto [write, position] = change_origin.at(p);
    unmatched[write].push_back(position);
  }
  co_return unmatched;
}

/// Payments commit one by one too; under load they go in batches like holds (same measurement).
constexpr std::size_t kMaxPaymentBatch = 64;
constexpr std::size_t kPaymentBatchesInFlight = 1;
constexpr std::size_t kMaxWaitingPayments = 4096;

PaymentOutcome payment_outcome_from_row(const Result& r, int row, const PaymentRequest& req) {
  using Kind = PaymentOutcome::Kind;
  const std::string kind = r.text(row, 0);
  PaymentOutcome out;
  if (kind == "PAID") {
    out.kind = Kind::Paid;
    out.receipt =
        PaymentReceipt{req.payment_id,    req.reservation_id, r.integer(row, 1), static_cast<int>(r.integer(row, 2)),
                       r.integer(row, 3), r.integer(row, 4)};
  } else if (kind == "INVALID_RESERVATION") {
    out.kind = Kind::InvalidReservation;
  } else if (kind == "INSUFFICIENT_BALANCE") {
    out.kind = Kind::InsufficientBalance;
    out.current_balance = r.integer(row, 5);
    out.required_amount = r.integer(row, 6);
  } else if (kind == "DUPLICATE_KEY") {
    out.kind = Kind::DuplicateKey;
  } else {
    throw std::runtime_error("postgres: pay_batch: unknown outcome " + kind);
  }
  return out;
}

Task<std::vector<PaymentOutcome>> payment_batch(std::shared_ptr<Pool> pool, ReleaseListener on_release,
                                                const std::vector<PaymentRequest>& requests) {
  std::vector<std::optional<std::string>> reservations;
  std::vector<std::optional<std::string>> users;
  std::vector<std::optional<std::string>> payments;
  std::vector<std::optional<std::string>> tokens;
  std::vector<std::optional<std::int64_t>> nows;
  std::vector<std::optional<std::string>> keys;
  std::vector<std::optional<std::string>> endpoints;
  std::vector<std::optional<std::string>> fingerprints;
  for (const PaymentRequest& req : requests) {
    reservations.emplace_back(req.reservation_id);
    users.emplace_back(req.user_id);
    payments.emplace_back(req.payment_id);
    tokens.emplace_back(req.token_id);
    nows.emplace_back(to_millis(req.now));
    keys.push_back(stamp_field(req.idempotency, &IdempotencyStamp::key));
    endpoints.push_back(stamp_field(req.idempotency, &IdempotencyStamp::endpoint));
    fingerprints.push_back(stamp_field(req.idempotency, &IdempotencyStamp::fingerprint));
  }
  Params params{text_array(reservations), text_array(users), text_array(payments),  text_array(tokens),
                bigint_array(nows),       text_array(keys),  text_array(endpoints), text_array(fingerprints)};
  const Result r = co_await query(pool, sql::kPayBatch, std::move(params));
  co_return batch_outcomes(r, requests, 7, on_release, payment_outcome_from_row);
}

Task<void> apply_migrations(Connection& c) {
  co_await c.run_text(sql::kNoStatementTimeout, kQueryTimeout);
  co_await c.run_text(sql::kMigrationLock, kMigrationTimeout);
  co_await c.run_text(sql::kCreateMigrationsTable, kQueryTimeout);
  for (const auto& [name, text] : migrations()) {
    Params key{std::string(name)};
    const Result applied = co_await c.run(sql::kMigrationApplied, key, kQueryTimeout);
    if (applied.rows() > 0) {
      continue;
    }
    const std::string body(text);
    co_await c.run_text(sql::kBegin, kQueryTimeout);
    co_await c.run_text(body.c_str(), kMigrationTimeout);
    const auto now = std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now());
    Params record{std::string(name), num(now.time_since_epoch().count())};
    co_await c.run(sql::kRecordMigration, record, kQueryTimeout);
    co_await c.run_text(sql::kCommit, kQueryTimeout);
    spdlog::info("postgres: applied migration {}", name);
  }
  co_await c.run_text(sql::kMigrationUnlock, kQueryTimeout);
  co_await c.run_text(sql::session_setup().c_str(), kQueryTimeout);
}

}  // namespace

struct PgStore::Impl {
  std::shared_ptr<Pool> pool;
  ReleaseListener on_release;
  std::shared_ptr<Batcher<HoldRequest, HoldOutcome>> holds;
  std::shared_ptr<Batcher<TokenWrite, UnmatchedChanges>> tokens;
  std::shared_ptr<Batcher<PaymentRequest, PaymentOutcome>> payments;

  /// Called after the statement that released `hold` has committed (autocommit: when it returned).
  void released(const std::optional<Reservation>& hold) const {
    if (hold && on_release) {
      on_release(*hold);
    }
  }
};

PgStore::PgStore(boost::asio::any_io_executor executor, std::string uri, std::size_t pool_size,
                 ReleaseListener on_release)
    : _impl(std::make_unique<Impl>()) {
  _impl->pool = std::make_shared<Pool>(executor, std::move(uri), pool_size);
  _impl->on_release = std::move(on_release);
  auto run_holds = [pool = _impl->pool, listener = _impl->on_release](const std::vector<HoldRequest>& requests) {
    return hold_batch(pool, listener, requests);
  };
  _impl->holds = std::make_shared<Batcher<HoldRequest, HoldOutcome>>(
      executor, std::move(run_holds),
      Batcher<HoldRequest, HoldOutcome>::Limits{kMaxHoldBatch, kHoldBatchesInFlight, kMaxWaitingHolds});
  auto run_tokens = [pool = _impl->pool](const std::vector<TokenWrite>& writes) { return token_batch(pool, writes); };
  _impl->tokens = std::make_shared<Batcher<TokenWrite, UnmatchedChanges>>(
      executor, std::move(run_tokens),
      Batcher<TokenWrite, UnmatchedChanges>::Limits{kMaxTokenBatch, kTokenBatchesInFlight, kMaxWaitingTokens});
  auto run_payments = [pool = _impl->pool, listener = _impl->on_release](const std::vector<PaymentRequest>& requests) {
    return payment_batch(pool, listener, requests);
  };
  _impl->payments = std::make_shared<Batcher<PaymentRequest, PaymentOutcome>>(
      executor, std::move(run_payments),
      Batcher<PaymentRequest, PaymentOutcome>::Limits{kMaxPaymentBatch, kPaymentBatchesInFlight, kMaxWaitingPayments});
}

PgStore::~PgStore() { _impl->pool->shutdown(); }

Task<void> PgStore::start() {
  Lease lease = co_await _impl->pool->start();
  std::exception_ptr failure;
  try {
    co_await apply_migrations(*lease);
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    // Closing the session rolls back a half-applied migration and frees the advisory lock.
    lease->close();
    std::rethrow_exception(failure);
  }
}

Task<bool> PgStore::ping() {
  Params params;
  const Result r = co_await query(_impl->pool, sql::kSelectOne, std::move(params));
  co_return r.rows() == 1;
}

// ---- concerts ---------------------------------------------------------------------------------

Task<ConcertId> PgStore::create_concert(NewConcert concert) {
  std::vector<std::optional<std::int64_t>> prices(concert.prices.begin(), concert.prices.end());
  Params params{concert.title, concert.venue, num(concert.date.days_since_epoch), bigint_array(prices),
                num(concert.created_at)};
  const Result r = co_await query(_impl->pool, sql::kCreateConcert, std::move(params));
  co_return one_row(r, "create_concert").integer(0, 0);
}

Task<std::int64_t> PgStore::count_concerts() {
  Params params;
  const Result r = co_await query(_impl->pool, sql::kCountConcerts, std::move(params));
  co_return one_row(r, "count_concerts").integer(0, 0);
}

Task<std::optional<ConcertInfo>> PgStore::concert_info(ConcertId id) {
  Params params{num(id)};
  const Result r = co_await query(_impl->pool, sql::kConcertById, std::move(params));
  if (r.rows() == 0) {
    co_return std::nullopt;
  }
  co_return ConcertInfo{id, Date{r.integer(0, 0)}, static_cast<int>(r.integer(0, 1))};
}

Task<std::vector<ConcertSummary>> PgStore::available_concerts(Date today, Timestamp now) {
  Params params{num(today.days_since_epoch), num(now)};
  const Result r = co_await query(_impl->pool, sql::kAvailableConcerts, std::move(params));
  std::vector<ConcertSummary> out;
  for (int row = 0; row < r.rows(); ++row) {
    if (r.integer(row, 6) == 0) {
      continue;
    }
    out.push_back(ConcertSummary{r.integer(row, 0), r.text(row, 1), r.text(row, 2), Date{r.integer(row, 3)},
                                 r.integer(row, 6), r.integer(row, 4), r.integer(row, 5)});
  }
  co_return out;
}

Task<SalesSummary> PgStore::sales_summary(Timestamp now, std::size_t max_concerts) {
  Params params{num(now)};
  const Result by_concert = co_await query(_impl->pool, sql::kSalesByConcert, std::move(params));
  SalesSummary out;
  for (int row = 0; row < by_concert.rows(); ++row) {
    ConcertSales concert{by_concert.integer(row, 0),       by_concert.text(row, 1),    by_concert.text(row, 2),
                         Date{by_concert.integer(row, 3)}, by_concert.integer(row, 4), by_concert.integer(row, 5),
                         by_concert.integer(row, 6),       by_concert.integer(row, 7)};
    add_concert(out, std::move(concert), max_concerts);
  }
  Params none;
  const Result ended = co_await query(_impl->pool, sql::kReleasesAndCancels, std::move(none));
  out.released = one_row(ended, "releases_and_cancels").integer(0, 0);
  out.cancelled = ended.integer(0, 1);
  co_return out;
}

Task<std::optional<SeatMap>> PgStore::seat_map(ConcertId id, Timestamp now) {
  Params params{num(id)};
  const Result r = co_await query(_impl->pool, sql::kSeatMap, std::move(params));
  if (r.rows() == 0) {
    co_return std::nullopt;
  }
  SeatMap map{id, Date{r.integer(0, 0)}, {}};
  map.seats.reserve(static_cast<std::size_t>(r.integer(0, 1)));
  const std::int64_t now_ms = to_millis(now);
  for (int row = 0; row < r.rows(); ++row) {
    if (r.is_null(row, 2)) {
      continue;  // a concert without seats (cannot be created, but reads as an empty map)
    }
    const std::string status = r.text(row, 4);
    SeatStatus s = SeatStatus::Available;
    if (status == "RESERVED") {
      s = SeatStatus::Reserved;
    } else if (status == "HELD" && r.optional_integer(row, 5).value_or(0) > now_ms) {
      s = SeatStatus::TemporarilyAssigned;
    }
    map.seats.push_back(SeatView{static_cast<int>(r.integer(row, 2)), s, r.integer(row, 3)});
  }
  co_return map;
}

// ---- holds --------------------------------------------------------------------------------------

Task<HoldOutcome> PgStore::hold_seat(HoldRequest req) { return _impl->holds->submit(std::move(req)); }

Task<std::optional<Reservation>> PgStore::find_reservation(std::string id, Timestamp now) {
  Params params{std::move(id)};
  const Result r = co_await query(_impl->pool, sql::kReservationById, std::move(params));
  if (r.rows() == 0) {
    co_return std::nullopt;
  }
  Reservation out = reservation_from_row(r, 0, 0);
  if (out.status == ReservationStatus::TemporarilyAssigned && out.expires_at <= now) {
    out.status = ReservationStatus::Expired;
  }
  co_return out;
}

Task<CancelOutcome> PgStore::cancel_reservation(std::string id, std::string user_id, Timestamp now) {
  Params params{std::move(id), std::move(user_id), num(now)};
  const Result r = co_await query(_impl->pool, sql::kCancelReservation, std::move(params));
  one_row(r, "cancel_reservation");
  _impl->released(released_from_row(r, 0, 1));
  const std::string kind = r.text(0, 0);
  if (kind == "CANCELLED") {
    co_return CancelOutcome::Cancelled;
  }
  if (kind == "NOT_FOUND") {
    co_return CancelOutcome::NotFound;
  }
  co_return CancelOutcome::NotCancellable;
}

Task<std::vector<Reservation>> PgStore::release_expired(Timestamp now, int limit) {
  Params params{num(now), num(limit)};
  const Result r = co_await query(_impl->pool, sql::kReleaseExpired, std::move(params));
  std::vector<Reservation> released;
  released.reserve(static_cast<std::size_t>(r.rows()));
  for (int row = 0; row < r.rows(); ++row) {
    released.push_back(reservation_from_row(r, row, 0));
  }
  for (const auto& hold : released) {
    _impl->released(hold);
  }
  co_return released;
}

// ---- money --------------------------------------------------------------------------------------

Task<BalanceView> PgStore::balance(std::string user_id) {
  Params params{user_id};
  const Result r = co_await query(_impl->pool, sql::kBalanceOf, std::move(params));
  BalanceView view{std::move(user_id), 0, std::nullopt};
  if (r.rows() > 0) {
    view.balance = r.integer(0, 0);
    view.last_updated = from_millis(r.integer(0, 1));
  }
  co_return view;
}

Task<ChargeOutcome> PgStore::charge(ChargeRequest req) {
  using Kind = ChargeOutcome::Kind;
  Params params{req.user_id,
                num(req.amount),
                num(req.balance_cap),
                req.transaction_id,
                num(req.now),
                stamp_field(req.idempotency, &IdempotencyStamp::key),
                stamp_field(req.idempotency, &IdempotencyStamp::endpoint),
                stamp_field(req.idempotency, &IdempotencyStamp::fingerprint)};
  const Result r = co_await query(_impl->pool, sql::kCharge, std::move(params));
  one_row(r, "charge");
  const std::string kind = r.text(0, 0);
  ChargeOutcome out;
  if (kind == "CHARGED") {
    out.kind = Kind::Charged;
    out.receipt = ChargeReceipt{req.user_id, r.integer(0, 1), req.amount, req.transaction_id};
  } else if (kind == "BALANCE_LIMIT_EXCEEDED") {
    out.kind = Kind::BalanceLimitExceeded;
  } else if (kind == "DUPLICATE_KEY") {
    out.kind = Kind::DuplicateKey;
  } else {
    throw std::runtime_error("postgres: charge: unknown outcome " + kind);
  }
  co_return out;
}

Task<PaymentOutcome> PgStore::pay(PaymentRequest req) { return _impl->payments->submit(std::move(req)); }

Task<std::optional<ChargeReceipt>> PgStore::charge_receipt(std::string transaction_id) {
  Params params{transaction_id};
  const Result r = co_await query(_impl->pool, sql::kChargeReceipt, std::move(params));
  if (r.rows() == 0) {
    co_return std::nullopt;
  }
  co_return ChargeReceipt{r.text(0, 0), r.integer(0, 1), r.integer(0, 2), std::move(transaction_id)};
}

Task<std::optional<PaymentReceipt>> PgStore::payment_receipt(std::string payment_id) {
  Params params{payment_id};
  const Result r = co_await query(_impl->pool, sql::kPaymentReceipt, std::move(params));
  if (r.rows() == 0) {
    co_return std::nullopt;
  }
  co_return PaymentReceipt{std::move(payment_id), r.text(0, 0),   r.integer(0, 1), static_cast<int>(r.integer(0, 2)),
                           r.integer(0, 3),       r.integer(0, 4)};
}

Task<std::optional<IdempotencyRecord>> PgStore::find_idempotency(std::string user_id, std::string key, Timestamp now) {
  Params params{std::move(user_id), std::move(key), num(now - kIdempotencyWindow)};
  const Result r = co_await query(_impl->pool, sql::kFindIdempotency, std::move(params));
  if (r.rows() == 0) {
    co_return std::nullopt;
  }
  co_return IdempotencyRecord{r.text(0, 0), r.text(0, 1), r.text(0, 2)};
}

// ---- tokens and settings -------------------------------------------------------------------------

Task<void> PgStore::save_token(TokenRecord t) {
  TokenWrite write;  // built outside the co_await: GCC 12 destroys braced temporaries there twice
  write.insert = std::move(t);
  co_await _impl->tokens->submit(std::move(write));
}

Task<std::vector<std::size_t>> PgStore::update_tokens(std::vector<TokenChange> changes) {
  if (changes.empty()) {
    co_return std::vector<std::size_t>{};
  }
  TokenWrite write;
  write.changes = std::move(changes);
  co_return co_await _impl->tokens->submit(std::move(write));
}

Task<std::vector<TokenRecord>> PgStore::load_live_tokens(Timestamp spent_since) {
  Params params{num(spent_since)};
  const Result r = co_await query(_impl->pool, sql::kLiveTokens, std::move(params));
  std::vector<TokenRecord> out;
  out.reserve(static_cast<std::size_t>(r.rows()));
  for (int row = 0; row < r.rows(); ++row) {
    out.push_back(TokenRecord{r.text(row, 0), r.text(row, 1), r.integer(row, 2), token_state_from(r.text(row, 3)),
                              from_millis(r.integer(row, 4)), optional_time(r.optional_integer(row, 5)),
                              optional_time(r.optional_integer(row, 6))});
  }
  co_return out;
}

namespace {

OpeningRecord opening_of(const Result& r, int row) {
  auto ids = std::make_shared<const std::vector<std::string>>(split_token_ids(r.text(row, 4)));
  return OpeningRecord{from_millis(r.integer(row, 0)), r.text(row, 1), r.integer(row, 2), r.integer(row, 3),
                       std::move(ids)};
}

}  // namespace

Task<OpeningRecord> PgStore::record_opening(OpeningRecord record) {
  const std::string ids = join_token_ids(*record.token_ids);
  /// Bounded: the second try sees the row that the first one's conflict says is there.
  for (int attempt = 0; attempt < 2; ++attempt) {
    Params params{num(record.opens_at), record.seed, num(record.first_seq), num(record.block_size), ids};
    const Result r = co_await query(_impl->pool, sql::kRecordOpening, std::move(params));
    if (r.rows() > 0 && r.optional_integer(0, 5) == 1) {
      co_return record;  // this one was inserted: its ids did not travel back
    }
    if (r.rows() > 0) {
      co_return opening_of(r, 0);
    }
  }
  throw Unavailable("postgres: opening record neither inserted nor found");
}

Task<std::optional<OpeningRecord>> PgStore::last_opening() {
  Params none;  // no temporary inside co_await (GCC 12)
  const Result r = co_await query(_impl->pool, sql::kLastOpening, std::move(none));
  if (r.rows() == 0) {
    co_return std::nullopt;
  }
  co_return opening_of(r, 0);
}

Task<std::vector<std::size_t>> PgStore::place_tokens(std::vector<PlacedToken> placed) {
  std::vector<std::string> ids;
  std::vector<std::optional<std::int64_t>> seqs;
  ids.reserve(placed.size());
  seqs.reserve(placed.size());
  for (auto& p : placed) {
    ids.push_back(std::move(p.token_id));
    seqs.emplace_back(p.seq);
  }
  Params params{text_array(ids), bigint_array(seqs)};
  const Result r = co_await query(_impl->pool, sql::kPlaceTokens, std::move(params));
  std::vector<std::size_t> unmatched;
  unmatched.reserve(static_cast<std::size_t>(r.rows()));
  for (int row = 0; row < r.rows(); ++row) {
    unmatched.push_back(static_cast<std::size_t>(r.integer(row, 0) - 1));
  }
  std::sort(unmatched.begin(), unmatched.end());
  co_return unmatched;
}

Task<std::map<std::string, std::string>> PgStore::load_settings() {
  Params none;  // no temporary inside co_await (GCC 12)
  const Result r = co_await query(_impl->pool, sql::kAllSettings, std::move(none));
  std::map<std::string, std::string> rows;
  for (int row = 0; row < r.rows(); ++row) {
    rows.emplace(r.text(row, 0), r.text(row, 1));
  }
  co_return rows;
}

Task<void> PgStore::put_settings(std::map<std::string, std::string> rows) {
  std::vector<std::string> names;
  std::vector<std::string> values;
  for (auto& [name, value] : rows) {
    names.push_back(name);
    values.push_back(std::move(value));
  }
  Params params{text_array(names), text_array(values)};
  co_await query(_impl->pool, sql::kPutSettings, std::move(params));
}

Task<std::string> PgStore::claim_setting(std::string name, std::string value) {
  /// Bounded: the second try sees the row that the first one's conflict says is there.
  for (int attempt = 0; attempt < 2; ++attempt) {
    Params params{name, value};
    const Result r = co_await query(_impl->pool, sql::kClaimSetting, std::move(params));
    if (r.rows() > 0) {
      co_return r.text(0, 0);
    }
  }
  throw Unavailable("postgres: setting " + name + " neither inserted nor found");
}

Task<void> PgStore::purge(Timestamp before) {
  Params params{num(before), num(kPurgeBatch)};
  co_await query(_impl->pool, sql::kPurge, std::move(params));
}

}  // namespace concertd::postgres
