#pragma once
// The durable store: the last word on seats and money. Every operation is one transaction;
// every money or seat change either happens whole or not at all. Outcomes a client can cause
// come back as values; an unreachable store throws Unavailable.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "domain/model.hpp"

namespace concertd {

template <class T>
using Task = boost::asio::awaitable<T>;

/// The longest an engine lets one statement run before it gives the operation up as
/// Unavailable (PostgreSQL's client-side limit; its server-side statement_timeout is a little
/// shorter so the server stops first). Whatever is held for the length of a store operation (an
/// idempotency claim) is held longer than this.
inline constexpr Millis kStoreStatementTimeout{10'000};

/// How long a success stays recorded under its Idempotency-Key: a retry within it gets the same
/// answer, one after it runs anew. Both engines read it from here (PostgreSQL's
/// concertd_claim_key through the session setting concertd.idempotency_window_ms).
inline constexpr Millis kIdempotencyWindow = std::chrono::hours(24);

struct HoldRequest {
  std::string reservation_id;  // fresh id, used when the hold is taken
  std::string user_id;
  ConcertId concert_id = 0;
  int seat_number = 0;
  Timestamp now;
  Timestamp expires_at;
  int max_holds_per_user = 4;
};

struct HoldOutcome {
  enum class Kind { Held, ConcertNotFound, SeatNotFound, HoldLimitExceeded, AlreadyAssigned };
  Kind kind = Kind::Held;
  Reservation reservation;                        // when Held
  std::optional<std::string> own_reservation_id;  // AlreadyAssigned by the asker's own hold
};

enum class CancelOutcome { Cancelled, NotFound, NotCancellable };

struct IdempotencyStamp {
  std::string key;
  std::string endpoint;     // "charge" or "payment"
  std::string fingerprint;  // of the request body
};

struct IdempotencyRecord {
  std::string endpoint;
  std::string fingerprint;
  std::string result_ref;  // transaction id of a charge, payment id of a payment
};

struct ChargeRequest {
  std::string user_id;
  Money amount = 0;
  Money balance_cap = 0;  // the balance after the charge may not exceed this
  std::string transaction_id;
  Timestamp now;
  std::optional<IdempotencyStamp> idempotency;
};

struct ChargeOutcome {
  /// DuplicateKey: a success is already recorded under the request's idempotency key.
  enum class Kind { Charged, BalanceLimitExceeded, DuplicateKey };
  Kind kind = Kind::Charged;
  ChargeReceipt receipt;
};

struct PaymentRequest {
  std::string reservation_id;
  std::string user_id;
  std::string payment_id;
  std::string token_id;  // spent in the same transaction
  Timestamp now;
  std::optional<IdempotencyStamp> idempotency;
};

struct PaymentOutcome {
  enum class Kind { Paid, InvalidReservation, InsufficientBalance, DuplicateKey };
  Kind kind = Kind::Paid;
  PaymentReceipt receipt;
  Money current_balance = 0;  // InsufficientBalance
  Money required_amount = 0;
};

struct TokenChange {
  std::string token_id;
  TokenState state = TokenState::Waiting;
  std::optional<Timestamp> active_until;
  std::optional<Timestamp> spent_at;
};

/// A pre-queue token's place drawn at the opening.
struct PlacedToken {
  std::string token_id;
  std::int64_t seq = 0;
};

/// Token ids of a pre-queue, shared rather than copied: an opening hands 100,000 of them around.
using TokenIds = std::shared_ptr<const std::vector<std::string>>;

/// An opening as claimed: the draw's inputs. The token drawn k-th of `token_ids` (in the order
/// of opening_order(seed, token_ids)) waits at seq first_seq + k.
struct OpeningRecord {
  Timestamp opens_at;
  std::string seed;
  std::int64_t first_seq = 0;
  std::int64_t block_size = 0;
  TokenIds token_ids;
};

/// Told of every hold released for expiry, once, after the release is committed.
using ReleaseListener = std::function<void(const Reservation&)>;

class Store {
 public:
  virtual ~Store() = default;

  virtual Task<bool> ping() = 0;

  virtual Task<ConcertId> create_concert(NewConcert concert) = 0;
  virtual Task<std::int64_t> count_concerts() = 0;
  /// A concert's immutable facts (date, seat count), or nullopt.
  virtual Task<std::optional<ConcertInfo>> concert_info(ConcertId id) = 0;
  /// Concerts dated `today` or later with at least one seat free at `now`, by date then id.
  virtual Task<std::vector<ConcertSummary>> available_concerts(Date today, Timestamp now) = 0;
  /// Seat statuses as of `now`: a hold past its deadline reads as available.
  virtual Task<std::optional<SeatMap>> seat_map(ConcertId id, Timestamp now) = 0;

  /// Totals over every concert, and the `max_concerts` newest concerts one by one. A read for
  /// operators, a scan of the seats and reservations: not for a fan's request path.
  virtual Task<SalesSummary> sales_summary(Timestamp now, std::size_t max_concerts) = 0;

  virtual Task<HoldOutcome> hold_seat(HoldRequest request) = 0;
  /// A hold past its deadline reads as EXPIRED, whether or not it was released yet.
  virtual Task<std::optional<Reservation>> find_reservation(std::string id, Timestamp now) = 0;
  virtual Task<CancelOutcome> cancel_reservation(std::string id, std::string user_id, Timestamp now) = 0;
  /// Marks up to `limit` holds past their deadline EXPIRED (one AUTO_RELEASE history row each).
  virtual Task<std::vector<Reservation>> release_expired(Timestamp now, int limit) = 0;

  virtual Task<BalanceView> balance(std::string user_id) = 0;
  virtual Task<ChargeOutcome> charge(ChargeRequest request) = 0;
  virtual Task<PaymentOutcome> pay(PaymentRequest request) = 0;
  virtual Task<std::optional<ChargeReceipt>> charge_receipt(std::string transaction_id) = 0;
  virtual Task<std::optional<PaymentReceipt>> payment_receipt(std::string payment_id) = 0;
  /// A success recorded under (user, key) within the last kIdempotencyWindow.
  virtual Task<std::optional<IdempotencyRecord>> find_idempotency(std::string user_id, std::string key,
                                                                  Timestamp now) = 0;

  virtual Task<void> save_token(TokenRecord token) = 0;
  /// Applies the changes in order. Returns the positions (in `changes`) of those whose token is
  /// not stored: with several instances, a tick on one can admit a token whose insert on the
  /// instance that issued it has not committed yet. The caller tries those again.
  virtual Task<std::vector<std::size_t>> update_tokens(std::vector<TokenChange> changes) = 0;
  /// Tokens waiting or active, and those spent after `spent_since` (still in their grace).
  virtual Task<std::vector<TokenRecord>> load_live_tokens(Timestamp spent_since) = 0;

  /// Keeps an opening's record (its seed, block and closed pre-queue) unless one is stored for
  /// the same opensAt; returns the stored one. With it the draw is fixed before anyone is shown
  /// a place: a restart recomputes every place from it.
  virtual Task<OpeningRecord> record_opening(OpeningRecord record) = 0;
  /// The opening recorded last (by opensAt), or nullopt.
  virtual Task<std::optional<OpeningRecord>> last_opening() = 0;
  /// Folds drawn places into token rows: each PRE_QUEUE token becomes WAITING at its seq.
  /// Returns the positions (in `placed`) of tokens not stored yet, as update_tokens does; a token
  /// stored but no longer PRE_QUEUE is left as it is (placed before, or it moved on).
  virtual Task<std::vector<std::size_t>> place_tokens(std::vector<PlacedToken> placed) = 0;

  /// Every settings row (name -> value).
  virtual Task<std::map<std::string, std::string>> load_settings() = 0;
  /// Writes the rows in one transaction; rows not named keep their values.
  virtual Task<void> put_settings(std::map<std::string, std::string> rows) = 0;
  /// Stores `value` under `name` unless a value is there already; returns the stored value, so
  /// that instances starting at once on an empty store agree on one.
  virtual Task<std::string> claim_setting(std::string name, std::string value) = 0;

  /// Deletes idempotency records and finished tokens older than `before`.
  virtual Task<void> purge(Timestamp before) = 0;
};

}  // namespace concertd
