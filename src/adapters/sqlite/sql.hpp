#pragma once
// Every SQL statement of the SQLite store, named. Parameters are always bound, never spliced.
namespace concertd::sqlite::sql {

inline constexpr const char* kSelectOne = "SELECT 1";

inline constexpr const char* kInsertConcert =
    "INSERT INTO concerts (title, venue, date_days, seat_count, min_price, max_price, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
inline constexpr const char* kInsertSeat = "INSERT INTO seats (concert_id, number, price) VALUES (?1, ?2, ?3)";
inline constexpr const char* kCountConcerts = "SELECT COUNT(*) FROM concerts";
inline constexpr const char* kAvailableConcerts =
    "SELECT c.id, c.title, c.venue, c.date_days, c.min_price, c.max_price, "
    "  (SELECT COUNT(*) FROM seats s WHERE s.concert_id = c.id "
    "     AND (s.status = 'AVAILABLE' OR (s.status = 'HELD' AND s.held_until <= ?2))) AS free "
    "FROM concerts c WHERE c.date_days >= ?1 ORDER BY c.date_days, c.id";
/// Every concert's held (not past ?1), sold and earned seats, the newest first.
inline constexpr const char* kSalesByConcert =
    "SELECT c.id, c.title, c.venue, c.date_days, c.seat_count, "
    "  COALESCE(SUM(s.status = 'HELD' AND s.held_until > ?1), 0), COALESCE(SUM(s.status = 'RESERVED'), 0), "
    "  COALESCE(SUM(CASE WHEN s.status = 'RESERVED' THEN s.price END), 0) "
    "FROM concerts c LEFT JOIN seats s ON s.concert_id = c.id GROUP BY c.id ORDER BY c.id DESC";
inline constexpr const char* kReleasesAndCancels =
    "SELECT COALESCE(SUM(status = 'EXPIRED'), 0), COALESCE(SUM(status = 'CANCELLED'), 0) FROM reservations";
inline constexpr const char* kConcertById = "SELECT date_days, seat_count FROM concerts WHERE id = ?1";
inline constexpr const char* kSeatsOfConcert =
    "SELECT number, price, status, held_until FROM seats WHERE concert_id = ?1 ORDER BY number";

inline constexpr const char* kSeatForUpdate =
    "SELECT status, reservation_id, held_until, price FROM seats WHERE concert_id = ?1 AND number = ?2";
/// Counts no further than the limit (?3): the answer only has to tell whether it is reached, and
/// an unbounded count cost a hold time proportional to the user's holds.
inline constexpr const char* kCountLiveHolds =
    "SELECT COUNT(*) FROM (SELECT 1 FROM reservations "
    "WHERE user_id = ?1 AND status = 'TEMPORARILY_ASSIGNED' AND expires_at > ?2 LIMIT ?3)";
/// The conditional write that makes a hold: only a free seat, or one whose hold has run out.
inline constexpr const char* kHoldSeat =
    "UPDATE seats SET status = 'HELD', reservation_id = ?3, held_until = ?4 "
    "WHERE concert_id = ?1 AND number = ?2 AND (status = 'AVAILABLE' OR (status = 'HELD' AND held_until <= ?5))";
inline constexpr const char* kInsertReservation =
    "INSERT INTO reservations (id, user_id, concert_id, seat_number, price, status, expires_at, created_at, "
    "updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, 'TEMPORARILY_ASSIGNED', ?6, ?7, ?7)";
inline constexpr const char* kInsertReservationHistory =
    "INSERT INTO reservation_history (reservation_id, action, reason, created_at) VALUES (?1, ?2, ?3, ?4)";
inline constexpr const char* kReservationById =
    "SELECT id, user_id, concert_id, seat_number, price, status, expires_at FROM reservations WHERE id = ?1";
inline constexpr const char* kSetReservationStatus =
    "UPDATE reservations SET status = ?2, updated_at = ?3 WHERE id = ?1 AND status = 'TEMPORARILY_ASSIGNED'";
inline constexpr const char* kFreeSeatOf =
    "UPDATE seats SET status = 'AVAILABLE', reservation_id = NULL, held_until = NULL "
    "WHERE concert_id = ?1 AND number = ?2 AND reservation_id = ?3 AND status = 'HELD'";
inline constexpr const char* kExpiredHolds =
    "SELECT id, user_id, concert_id, seat_number, price, status, expires_at FROM reservations "
    "WHERE status = 'TEMPORARILY_ASSIGNED' AND expires_at <= ?1 ORDER BY expires_at LIMIT ?2";
inline constexpr const char* kSellSeat =
    "UPDATE seats SET status = 'RESERVED', held_until = NULL "
    "WHERE concert_id = ?1 AND number = ?2 AND reservation_id = ?3 AND status = 'HELD'";

inline constexpr const char* kBalanceOf = "SELECT balance, updated_at FROM balances WHERE user_id = ?1";
inline constexpr const char* kUpsertBalance =
    "INSERT INTO balances (user_id, balance, updated_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (user_id) DO UPDATE SET balance = excluded.balance, updated_at = excluded.updated_at";
/// The debit cannot take a balance below zero, whatever the caller checked before.
inline constexpr const char* kDebit =
    "UPDATE balances SET balance = balance - ?2, updated_at = ?3 WHERE user_id = ?1 AND balance >= ?2";
inline constexpr const char* kInsertBalanceHistory =
    "INSERT INTO balance_history (id, user_id, type, amount, balance_after, created_at) VALUES (?1, ?2, ?3, ?4, ?5, "
    "?6)";
inline constexpr const char* kChargeReceipt =
    "SELECT user_id, balance_after, amount FROM balance_history WHERE id = ?1 AND type = 'CHARGE'";
inline constexpr const char* kInsertPayment =
    "INSERT INTO payments (id, reservation_id, user_id, concert_id, seat_number, amount, balance_after, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
inline constexpr const char* kPaymentReceipt =
    "SELECT reservation_id, concert_id, seat_number, amount, balance_after FROM payments WHERE id = ?1";

inline constexpr const char* kFindIdempotency =
    "SELECT endpoint, fingerprint, result_ref FROM idempotency_keys WHERE user_id = ?1 AND key = ?2 AND created_at > "
    "?3";
inline constexpr const char* kDeleteStaleIdempotency =
    "DELETE FROM idempotency_keys WHERE user_id = ?1 AND key = ?2 AND created_at <= ?3";
inline constexpr const char* kInsertIdempotency =
    "INSERT INTO idempotency_keys (user_id, key, endpoint, fingerprint, result_ref, created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
inline constexpr const char* kPurgeIdempotency =
    "DELETE FROM idempotency_keys WHERE (user_id, key) IN "
    "  (SELECT user_id, key FROM idempotency_keys WHERE created_at < ?1 LIMIT ?2)";

inline constexpr const char* kInsertToken =
    "INSERT INTO tokens (id, user_id, seq, state, issued_at, active_until, spent_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
    "?7)";
// SPENT and DROPPED are final, and a payment spends its token from WAITING too (the line admitted
// it; with a shared line the ACTIVE change may still be on its way): as PostgreSQL's 0005.
inline constexpr const char* kUpdateToken =
    "UPDATE tokens SET state = ?2, active_until = COALESCE(?3, active_until), spent_at = COALESCE(?4, spent_at) "
    "WHERE id = ?1 AND state NOT IN ('SPENT', 'DROPPED')";
inline constexpr const char* kTokenExists = "SELECT 1 FROM tokens WHERE id = ?1";
inline constexpr const char* kSpendToken =
    "UPDATE tokens SET state = 'SPENT', spent_at = ?2 WHERE id = ?1 AND state IN ('WAITING', 'ACTIVE')";
inline constexpr const char* kLiveTokens =
    "SELECT id, user_id, seq, state, issued_at, active_until, spent_at FROM tokens "
    "WHERE state IN ('WAITING', 'ACTIVE', 'PRE_QUEUE') OR (state = 'SPENT' AND spent_at > ?1) ORDER BY seq";
inline constexpr const char* kRecordOpening =
    "INSERT INTO openings (opens_at, seed, first_seq, block_size, token_ids) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (opens_at) DO NOTHING";
inline constexpr const char* kOpeningAt =
    "SELECT opens_at, seed, first_seq, block_size, token_ids FROM openings WHERE opens_at = ?1";
inline constexpr const char* kLastOpening =
    "SELECT opens_at, seed, first_seq, block_size, token_ids FROM openings ORDER BY opens_at DESC LIMIT 1";
/// The opening's placement of one pre-queue token; a token that moved on is left as it is.
inline constexpr const char* kPlaceToken =
    "UPDATE tokens SET state = 'WAITING', seq = ?2 WHERE id = ?1 AND state = 'PRE_QUEUE'";
inline constexpr const char* kPurgeTokens =
    "DELETE FROM tokens WHERE id IN (SELECT id FROM tokens WHERE state = 'DROPPED' "
    "  OR (state = 'SPENT' AND spent_at < ?1) LIMIT ?2)";

inline constexpr const char* kAllSettings = "SELECT name, value FROM settings";
inline constexpr const char* kGetSetting = "SELECT value FROM settings WHERE name = ?1";
inline constexpr const char* kPutSetting =
    "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value";
inline constexpr const char* kInsertSettingIfAbsent =
    "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING";

inline constexpr const char* kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)";
inline constexpr const char* kMigrationApplied = "SELECT 1 FROM schema_migrations WHERE name = ?1";
inline constexpr const char* kRecordMigration = "INSERT INTO schema_migrations (name, applied_at) VALUES (?1, ?2)";

}  // namespace concertd::sqlite::sql
