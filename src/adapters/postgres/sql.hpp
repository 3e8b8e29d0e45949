#pragma once
// Every SQL statement of the PostgreSQL store, named. Parameters are always bound, never spliced.
// Each statement is prepared once per connection under its name; the multi-step operations are
// PL/pgSQL functions of the migrations, so that each is one round trip and one transaction.
#include <string>

#include "ports/store.hpp"

namespace concertd::postgres::sql {

struct Statement {
  const char* name;
  const char* text;
  int params;
};

inline constexpr Statement kSelectOne{"select_one", "SELECT 1", 0};

inline constexpr Statement kCreateConcert{
    "create_concert", "SELECT concertd_create_concert($1, $2, $3::bigint, $4::bigint[], $5::bigint)", 5};
inline constexpr Statement kCountConcerts{"count_concerts", "SELECT count(*) FROM concerts", 0};
/// Every concert's held (not past $1), sold and earned seats, the newest first.
inline constexpr Statement kSalesByConcert{
    "sales_by_concert",
    "SELECT c.id, c.title, c.venue, c.date_days, c.seat_count, "
    "  count(*) FILTER (WHERE s.status = 'HELD' AND s.held_until > $1::bigint), "
    "  count(*) FILTER (WHERE s.status = 'RESERVED'), "
    "  COALESCE(sum(s.price) FILTER (WHERE s.status = 'RESERVED'), 0) "
    "FROM concerts c LEFT JOIN seats s ON s.concert_id = c.id GROUP BY c.id ORDER BY c.id DESC",
    1};
inline constexpr Statement kReleasesAndCancels{"releases_and_cancels",
                                               "SELECT count(*) FILTER (WHERE status = 'EXPIRED'), "
                                               "count(*) FILTER (WHERE status = 'CANCELLED') FROM reservations",
                                               0};
inline constexpr Statement kConcertById{"concert_by_id",
                                        "SELECT date_days, seat_count FROM concerts WHERE id = $1::bigint", 1};
inline constexpr Statement kAvailableConcerts{
    "available_concerts",
    "SELECT c.id, c.title, c.venue, c.date_days, c.min_price, c.max_price, "
    "  (SELECT count(*) FROM seats s WHERE s.concert_id = c.id "
    "     AND (s.status = 'AVAILABLE' OR (s.status = 'HELD' AND s.held_until <= $2::bigint))) AS free "
    "FROM concerts c WHERE c.date_days >= $1::bigint ORDER BY c.date_days, c.id",
    2};
/// The concert's facts with its seats, one row per seat (none when the concert does not exist).
inline constexpr Statement kSeatMap{
    "seat_map",
    "SELECT c.date_days, c.seat_count, s.number, s.price, s.status, s.held_until "
    "FROM concerts c LEFT JOIN seats s ON s.concert_id = c.id WHERE c.id = $1::bigint ORDER BY s.number",
    1};

/// A batch of holds, decided in array order; one row per hold, in the same order.
inline constexpr Statement kHoldSeats{
    "hold_seats",
    "SELECT * FROM concertd_hold_seats($1::text[], $2::text[], $3::bigint[], $4::integer[], $5::bigint[], "
    "$6::integer[], $7::bigint)",
    7};
inline constexpr Statement kReservationById{
    "reservation_by_id",
    "SELECT id, user_id, concert_id, seat_number, price, status, expires_at FROM reservations WHERE id = $1", 1};
inline constexpr Statement kCancelReservation{"cancel_reservation",
                                              "SELECT * FROM concertd_cancel_reservation($1, $2, $3::bigint)", 3};
inline constexpr Statement kReleaseExpired{"release_expired",
                                           "SELECT id, user_id, concert_id, seat_number, price, status, expires_at "
                                           "FROM concertd_release_expired($1::bigint, $2::integer)",
                                           2};

inline constexpr Statement kBalanceOf{"balance_of", "SELECT balance, updated_at FROM balances WHERE user_id = $1", 1};
inline constexpr Statement kCharge{
    "charge", "SELECT * FROM concertd_charge($1, $2::bigint, $3::bigint, $4, $5::bigint, $6, $7, $8)", 8};
/// A batch of payments, decided in array order; one row per payment, in the same order.
inline constexpr Statement kPayBatch{
    "pay_batch",
    "SELECT * FROM concertd_pay_batch($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], "
    "$7::text[], $8::text[])",
    8};
inline constexpr Statement kChargeReceipt{
    "charge_receipt", "SELECT user_id, balance_after, amount FROM balance_history WHERE id = $1 AND type = 'CHARGE'",
    1};
inline constexpr Statement kPaymentReceipt{
    "payment_receipt",
    "SELECT reservation_id, concert_id, seat_number, amount, balance_after FROM payments WHERE id = $1", 1};
inline constexpr Statement kFindIdempotency{"find_idempotency",
                                            "SELECT endpoint, fingerprint, result_ref FROM idempotency_keys "
                                            "WHERE user_id = $1 AND key = $2 AND created_at > $3::bigint",
                                            3};

/// New tokens (the first seven arrays, one row each), then state changes of stored ones in order.
inline constexpr Statement kStoreTokens{
    "store_tokens",
    "SELECT concertd_store_tokens($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[], "
    "$7::bigint[], $8::text[], $9::text[], $10::bigint[], $11::bigint[])",
    11};
inline constexpr Statement kLiveTokens{
    "live_tokens",
    "SELECT id, user_id, seq, state, issued_at, active_until, spent_at FROM tokens "
    "WHERE state IN ('WAITING', 'ACTIVE', 'PRE_QUEUE') OR (state = 'SPENT' AND spent_at > $1::bigint) ORDER BY seq",
    1};

inline constexpr Statement kPlaceTokens{"place_tokens", "SELECT concertd_place_tokens($1::text[], $2::bigint[])", 2};
/// The stored record of the opening at $1 after inserting this one unless one was there. Empty
/// when another transaction inserted it after this statement's snapshot: the caller asks again.
inline constexpr Statement kRecordOpening{
    "record_opening",
    "WITH inserted AS (INSERT INTO openings (opens_at, seed, first_seq, block_size, token_ids) "
    "  VALUES ($1::bigint, $2, $3::bigint, $4::bigint, $5) ON CONFLICT (opens_at) DO NOTHING "
    "  RETURNING opens_at, seed, first_seq, block_size, ''::text, 1) "
    "SELECT * FROM inserted UNION ALL "
    "SELECT opens_at, seed, first_seq, block_size, token_ids, 0 FROM openings WHERE opens_at = $1::bigint LIMIT 1",
    5};
inline constexpr Statement kLastOpening{
    "last_opening",
    "SELECT opens_at, seed, first_seq, block_size, token_ids FROM openings ORDER BY opens_at DESC LIMIT 1", 0};
inline constexpr Statement kAllSettings{"all_settings", "SELECT name, value FROM settings", 0};
inline constexpr Statement kPutSettings{
    "put_settings",
    "INSERT INTO settings (name, value) SELECT * FROM unnest($1::text[], $2::text[]) "
    "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
    2};
/// The stored value of $1 after inserting $2 unless one was there. Empty when another
/// transaction inserted it after this statement's snapshot: the caller asks again.
inline constexpr Statement kClaimSetting{
    "claim_setting",
    "WITH inserted AS (INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING RETURNING "
    "value) "
    "SELECT value FROM inserted UNION ALL SELECT value FROM settings WHERE name = $1 LIMIT 1",
    2};

inline constexpr Statement kPurge{"purge", "SELECT concertd_purge($1::bigint, $2::integer)", 2};

/// Run on every new connection: the server gives up on a statement a little before the client
/// does (kStoreStatementTimeout), so that a statement the client reports as failed is rolled back,
/// not committed late; and the idempotency window that concertd_claim_key reads (migration 0007).
inline const std::string& session_setup() {
  static const std::string text =
      "SET statement_timeout = " + std::to_string((kStoreStatementTimeout - Millis{1000}).count()) +
      "; SET concertd.idempotency_window_ms = " + std::to_string(kIdempotencyWindow.count());
  return text;
}
/// Migrations wait for each other's lock and may take their time.
inline constexpr const char* kNoStatementTimeout = "SET statement_timeout = 0";

// ---- migrations (run unprepared, once per start) ------------------------------------------------

/// Instances starting together take turns: the second sees the first one's migrations applied.
inline constexpr const char* kMigrationLock = "SELECT pg_advisory_lock(7426013550211817001)";
inline constexpr const char* kMigrationUnlock = "SELECT pg_advisory_unlock(7426013550211817001)";
inline constexpr const char* kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)";
inline constexpr Statement kMigrationApplied{"migration_applied", "SELECT 1 FROM schema_migrations WHERE name = $1", 1};
inline constexpr Statement kRecordMigration{
    "record_migration", "INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2::bigint)", 2};
inline constexpr const char* kBegin = "BEGIN";
inline constexpr const char* kCommit = "COMMIT";

}  // namespace concertd::postgres::sql
