#include "adapters/sqlite/sqlite_store.hpp"

#include <algorithm>

#include "adapters/sqlite/connection.hpp"
#include "adapters/sqlite/sql.hpp"
#include "domain/assert.hpp"
#include "domain/errors.hpp"
#include "domain/waiting_room.hpp"

namespace concertd::sqlite {

namespace {

constexpr int kPurgeBatch = 1000;

std::int64_t ms(Timestamp t) { return to_millis(t); }

std::optional<Timestamp> optional_time(const std::optional<std::int64_t>& v) {
  return v ? std::optional<Timestamp>(from_millis(*v)) : std::nullopt;
}

std::optional<std::int64_t> optional_ms(const std::optional<Timestamp>& t) {
  return t ? std::optional<std::int64_t>(ms(*t)) : std::nullopt;
}

/// Reads the columns of sql::kReservationById / kExpiredHolds.
Reservation reservation_from_row(const Statement& st) {
  Reservation r;
  r.id = st.column_text(0);
  r.user_id = st.column_text(1);
  r.concert_id = st.column_int(2);
  r.seat_number = static_cast<int>(st.column_int(3));
  r.price = st.column_int(4);
  r.status = reservation_status_from(st.column_text(5));
  r.expires_at = from_millis(st.column_int(6));
  return r;
}

std::optional<Reservation> load_reservation(Database& db, const std::string& id) {
  auto st = db.query(sql::kReservationById);
  st.bind(1, id);
  if (!st.step()) {
    return std::nullopt;
  }
  return reservation_from_row(st);
}

bool is_expired_hold(const Reservation& r, Timestamp now) {
  return r.status == ReservationStatus::TemporarilyAssigned && r.expires_at <= now;
}

void release_hold(Database& db, Reservation hold, Timestamp now, std::vector<Reservation>& released) {
  db.query(sql::kSetReservationStatus).bind(1, hold.id).bind(2, std::string_view("EXPIRED")).bind(3, ms(now)).run();
  if (db.changes() == 0) {
    return;  // released already
  }
  db.query(sql::kFreeSeatOf).bind(1, hold.concert_id).bind(2, hold.seat_number).bind(3, hold.id).run();
  db.query(sql::kInsertReservationHistory)
      .bind(1, hold.id)
      .bind(2, std::string_view("AUTO_RELEASE"))
      .bind(3, std::string_view("EXPIRED"))
      .bind(4, ms(now))
      .run();
  hold.status = ReservationStatus::Expired;
  released.push_back(std::move(hold));
}

/// Removes an idempotency record past its lifetime, then tells whether the key is taken.
bool idempotency_key_taken(Database& db, const std::string& user, const IdempotencyStamp& stamp, Timestamp now) {
  db.query(sql::kDeleteStaleIdempotency).bind(1, user).bind(2, stamp.key).bind(3, ms(now - kIdempotencyWindow)).run();
  auto st = db.query(sql::kFindIdempotency);
  st.bind(1, user).bind(2, stamp.key).bind(3, ms(now - kIdempotencyWindow));
  return st.step();
}

void record_idempotency(Database& db, const std::string& user, const IdempotencyStamp& stamp,
                        const std::string& result_ref, Timestamp now) {
  db.query(sql::kInsertIdempotency)
      .bind(1, user)
      .bind(2, stamp.key)
      .bind(3, stamp.endpoint)
      .bind(4, stamp.fingerprint)
      .bind(5, result_ref)
      .bind(6, ms(now))
      .run();
}

}  // namespace

// ---- SqliteStore: plumbing --------------------------------------------------------------------

SqliteStore::SqliteStore(const std::string& path, ReleaseListener on_release) : _jobs(std::move(on_release)) {
  _writer = std::make_unique<Worker>(open_writer(path), true);
  if (path != ":memory:") {
    _reader = std::make_unique<Worker>(open_reader(path), false);
    _checkpointer = std::make_unique<Checkpointer>(open_reader(path));
  }
}

SqliteStore::~SqliteStore() = default;

// ---- concerts ---------------------------------------------------------------------------------

Task<bool> SqliteStore::ping() {
  return on(reader(), [](JobContext& ctx) {
    auto st = ctx.db.query(sql::kSelectOne);
    return st.step();
  });
}

Task<ConcertId> SqliteStore::create_concert(NewConcert concert) {
  return on(*_writer, [concert = std::move(concert)](JobContext& ctx) {
    const auto [min_it, max_it] = std::minmax_element(concert.prices.begin(), concert.prices.end());
    auto insert = ctx.db.query(sql::kInsertConcert);
    insert.bind(1, concert.title)
        .bind(2, concert.venue)
        .bind(3, concert.date.days_since_epoch)
        .bind(4, static_cast<std::int64_t>(concert.prices.size()))
        .bind(5, *min_it)
        .bind(6, *max_it)
        .bind(7, ms(concert.created_at));
    insert.run();
    auto id_query = ctx.db.query("SELECT last_insert_rowid()");
    id_query.step();
    const ConcertId id = id_query.column_int(0);
    for (std::size_t i = 0; i < concert.prices.size(); ++i) {
      ctx.db.query(sql::kInsertSeat)
          .bind(1, id)
          .bind(2, static_cast<std::int64_t>(i + 1))
          .bind(3, concert.prices[i])
          .run();
    }
    return id;
  });
}

Task<std::int64_t> SqliteStore::count_concerts() {
  return on(reader(), [](JobContext& ctx) {
    auto st = ctx.db.query(sql::kCountConcerts);
    st.step();
    return st.column_int(0);
  });
}

Task<std::optional<ConcertInfo>> SqliteStore::concert_info(ConcertId id) {
  return on(reader(), [id](JobContext& ctx) -> std::optional<ConcertInfo> {
    auto st = ctx.db.query(sql::kConcertById);
    st.bind(1, id);
    if (!st.step()) {
      return std::nullopt;
    }
    return ConcertInfo{id, Date{st.column_int(0)}, static_cast<int>(st.column_int(1))};
  });
}

Task<std::vector<ConcertSummary>> SqliteStore::available_concerts(Date today, Timestamp now) {
  return on(reader(), [today, now](JobContext& ctx) {
    std::vector<ConcertSummary> out;
    auto st = ctx.db.query(sql::kAvailableConcerts);
    st.bind(1, today.days_since_epoch).bind(2, ms(now));
    while (st.step()) {
      if (st.column_int(6) == 0) {
        continue;
      }
      out.push_back(ConcertSummary{st.column_int(0), st.column_text(1), st.column_text(2), Date{st.column_int(3)},
                                   st.column_int(6), st.column_int(4), st.column_int(5)});
    }
    return out;
  });
}

Task<SalesSummary> SqliteStore::sales_summary(Timestamp now, std::size_t max_concerts) {
  return on(reader(), [now, max_concerts](JobContext& ctx) {
    SalesSummary out;
    auto by_concert = ctx.db.query(sql::kSalesByConcert);
    by_concert.bind(1, ms(now));
    while (by_concert.step()) {
      ConcertSales concert{by_concert.column_int(0),       by_concert.column_text(1), by_concert.column_text(2),
                           Date{by_concert.column_int(3)}, by_concert.column_int(4),  by_concert.column_int(5),
                           by_concert.column_int(6),       by_concert.column_int(7)};
      add_concert(out, std::move(concert), max_concerts);
    }
    auto ended = ctx.db.query(sql::kReleasesAndCancels);
    ended.step();
    out.released = ended.column_int(0);
    out.cancelled = ended.column_int(1);
    return out;
  });
}

Task<std::optional<SeatMap>> SqliteStore::seat_map(ConcertId id, Timestamp now) {
  const std::uint64_t generation = _jobs.seat_generation();
  {
    std::lock_guard lock(_seat_cache_mutex);
    if (auto it = _seat_cache.find(id);
        it != _seat_cache.end() && it->second.generation == generation && now < it->second.valid_until) {
      co_return it->second.map;
    }
  }
  auto read = read_seat_map(id, now);
  auto [map, valid_until] = co_await std::move(read);
  if (map) {
    std::lock_guard lock(_seat_cache_mutex);
    if (_seat_cache.size() >= kMaxCachedSeatMaps && !_seat_cache.contains(id)) {
      _seat_cache.clear();  // rare: more concerts read than fit; they come back on their next read
    }
    _seat_cache[id] = CachedSeatMap{generation, valid_until, *map};
  }
  co_return std::move(map);
}

/// The map as of `now`, and until when it stays so without a write: the first hold to run out.
Task<std::pair<std::optional<SeatMap>, Timestamp>> SqliteStore::read_seat_map(ConcertId id, Timestamp now) {
  return on(reader(), [id, now](JobContext& ctx) -> std::pair<std::optional<SeatMap>, Timestamp> {
    auto concert = ctx.db.query(sql::kConcertById);
    concert.bind(1, id);
    if (!concert.step()) {
      return {std::nullopt, now};
    }
    SeatMap map{id, Date{concert.column_int(0)}, {}};
    map.seats.reserve(static_cast<std::size_t>(concert.column_int(1)));
    Timestamp valid_until = Timestamp::max();
    auto seats = ctx.db.query(sql::kSeatsOfConcert);
    seats.bind(1, id);
    while (seats.step()) {
      const std::string status = seats.column_text(2);
      SeatStatus s = SeatStatus::Available;
      if (status == "RESERVED") {
        s = SeatStatus::Reserved;
      } else if (status == "HELD" && seats.column_int(3) > ms(now)) {
        s = SeatStatus::TemporarilyAssigned;
        valid_until = std::min(valid_until, from_millis(seats.column_int(3)));
      }
      map.seats.push_back(SeatView{static_cast<int>(seats.column_int(0)), s, seats.column_int(1)});
    }
    return {std::move(map), valid_until};
  });
}

// ---- holds --------------------------------------------------------------------------------------

namespace {

/// The seat becomes the hold's, and the reservation and its history row are written. The seat
/// was found free under the write lock: anything else is a bug.
void write_hold(Database& db, const HoldRequest& req, Money price) {
  db.query(sql::kHoldSeat)
      .bind(1, req.concert_id)
      .bind(2, req.seat_number)
      .bind(3, req.reservation_id)
      .bind(4, ms(req.expires_at))
      .bind(5, ms(req.now))
      .run();
  CONCERTD_ASSERT(db.changes() == 1, "a seat found free under the write lock is still free: one seat, one holder");
  db.query(sql::kInsertReservation)
      .bind(1, req.reservation_id)
      .bind(2, req.user_id)
      .bind(3, req.concert_id)
      .bind(4, req.seat_number)
      .bind(5, price)
      .bind(6, ms(req.expires_at))
      .bind(7, ms(req.now))
      .run();
  db.query(sql::kInsertReservationHistory)
      .bind(1, req.reservation_id)
      .bind(2, std::string_view("HOLD"))
      .bind(3, std::nullopt)
      .bind(4, ms(req.now))
      .run();
}

/// One row of a user's balance history: what moved (`kind` CHARGE or PAYMENT), and the balance after.
void insert_balance_history(Database& db, const std::string& id, const std::string& user_id, std::string_view kind,
                            Money amount, Money balance_after, Timestamp now) {
  db.query(sql::kInsertBalanceHistory)
      .bind(1, id)
      .bind(2, user_id)
      .bind(3, kind)
      .bind(4, amount)
      .bind(5, balance_after)
      .bind(6, ms(now))
      .run();
}

/// The rows a payment leaves besides the debit and the sale: the reservation confirmed, its
/// history, the payment and the balance history.
void record_payment(Database& db, const PaymentRequest& req, const Reservation& hold, Money balance_after) {
  db.query(sql::kSetReservationStatus)
      .bind(1, hold.id)
      .bind(2, std::string_view("CONFIRMED"))
      .bind(3, ms(req.now))
      .run();
  db.query(sql::kInsertReservationHistory)
      .bind(1, hold.id)
      .bind(2, std::string_view("CONFIRM"))
      .bind(3, req.payment_id)
      .bind(4, ms(req.now))
      .run();
  db.query(sql::kInsertPayment)
      .bind(1, req.payment_id)
      .bind(2, hold.id)
      .bind(3, req.user_id)
      .bind(4, hold.concert_id)
      .bind(5, hold.seat_number)
      .bind(6, hold.price)
      .bind(7, balance_after)
      .bind(8, ms(req.now))
      .run();
  insert_balance_history(db, req.payment_id, req.user_id, "PAYMENT", hold.price, balance_after, req.now);
}

}  // namespace

Task<HoldOutcome> SqliteStore::hold_seat(HoldRequest req) {
  return on(*_writer, [req = std::move(req)](JobContext& ctx) {
    using Kind = HoldOutcome::Kind;
    Database& db = ctx.db;
    HoldOutcome out;
    auto concert = db.query(sql::kConcertById);
    concert.bind(1, req.concert_id);
    if (!concert.step()) {
      out.kind = Kind::ConcertNotFound;
      return out;
    }
    if (req.seat_number < 1 || req.seat_number > concert.column_int(1)) {
      out.kind = Kind::SeatNotFound;
      return out;
    }
    auto seat = db.query(sql::kSeatForUpdate);
    seat.bind(1, req.concert_id).bind(2, req.seat_number);
    seat.step();
    const std::string status = seat.column_text(0);
    const std::string holder = seat.column_text(1);
    const bool held_now = status == "HELD" && seat.column_int(2) > ms(req.now);
    const Money price = seat.column_int(3);
    if (status == "RESERVED" || held_now) {
      out.kind = Kind::AlreadyAssigned;
      if (held_now) {
        if (auto current = load_reservation(db, holder); current && current->user_id == req.user_id) {
          out.own_reservation_id = current->id;
        }
      }
      return out;
    }
    auto holds = db.query(sql::kCountLiveHolds);
    holds.bind(1, req.user_id).bind(2, ms(req.now)).bind(3, static_cast<std::int64_t>(req.max_holds_per_user));
    holds.step();
    if (holds.column_int(0) >= req.max_holds_per_user) {
      out.kind = Kind::HoldLimitExceeded;
      return out;
    }
    if (status == "HELD") {
      // Its hold ran out but was not released yet: this write releases it first.
      if (auto stale = load_reservation(db, holder); stale && is_expired_hold(*stale, req.now)) {
        release_hold(db, *stale, req.now, ctx.released);
      }
    }
    write_hold(db, req, price);
    out.kind = Kind::Held;
    out.reservation = Reservation{req.reservation_id, req.user_id, req.concert_id,
                                  req.seat_number,    price,       ReservationStatus::TemporarilyAssigned,
                                  req.expires_at};
    return out;
  });
}

Task<std::optional<Reservation>> SqliteStore::find_reservation(std::string id, Timestamp now) {
  return on(reader(), [id = std::move(id), now](JobContext& ctx) {
    auto r = load_reservation(ctx.db, id);
    if (r && is_expired_hold(*r, now)) {
      r->status = ReservationStatus::Expired;
    }
    return r;
  });
}

Task<CancelOutcome> SqliteStore::cancel_reservation(std::string id, std::string user_id, Timestamp now) {
  return on(*_writer, [id = std::move(id), user_id = std::move(user_id), now](JobContext& ctx) {
    auto r = load_reservation(ctx.db, id);
    if (!r || r->user_id != user_id) {
      return CancelOutcome::NotFound;
    }
    if (is_expired_hold(*r, now)) {
      release_hold(ctx.db, *r, now, ctx.released);
      return CancelOutcome::NotCancellable;
    }
    if (r->status != ReservationStatus::TemporarilyAssigned) {
      return CancelOutcome::NotCancellable;
    }
    ctx.db.query(sql::kSetReservationStatus).bind(1, id).bind(2, std::string_view("CANCELLED")).bind(3, ms(now)).run();
    ctx.db.query(sql::kFreeSeatOf).bind(1, r->concert_id).bind(2, r->seat_number).bind(3, id).run();
    ctx.db.query(sql::kInsertReservationHistory)
        .bind(1, id)
        .bind(2, std::string_view("CANCEL"))
        .bind(3, std::string_view("USER"))
        .bind(4, ms(now))
        .run();
    return CancelOutcome::Cancelled;
  });
}

Task<std::vector<Reservation>> SqliteStore::release_expired(Timestamp now, int limit) {
  return on(*_writer, [now, limit](JobContext& ctx) {
    std::vector<Reservation> due;
    {
      auto st = ctx.db.query(sql::kExpiredHolds);
      st.bind(1, ms(now)).bind(2, static_cast<std::int64_t>(limit));
      while (st.step()) {
        due.push_back(reservation_from_row(st));
      }
    }
    for (const auto& hold : due) {
      release_hold(ctx.db, hold, now, ctx.released);
    }
    return ctx.released;
  });
}

// ---- money --------------------------------------------------------------------------------------

Task<BalanceView> SqliteStore::balance(std::string user_id) {
  return on(reader(), [user_id = std::move(user_id)](JobContext& ctx) {
    BalanceView view{user_id, 0, std::nullopt};
    auto st = ctx.db.query(sql::kBalanceOf);
    st.bind(1, user_id);
    if (st.step()) {
      view.balance = st.column_int(0);
      view.last_updated = from_millis(st.column_int(1));
    }
    return view;
  });
}

Task<ChargeOutcome> SqliteStore::charge(ChargeRequest req) {
  return on(*_writer, [req = std::move(req)](JobContext& ctx) {
    using Kind = ChargeOutcome::Kind;
    Database& db = ctx.db;
    ChargeOutcome out;
    if (req.idempotency && idempotency_key_taken(db, req.user_id, *req.idempotency, req.now)) {
      out.kind = Kind::DuplicateKey;
      return out;
    }
    Money current = 0;
    {
      auto st = db.query(sql::kBalanceOf);
      st.bind(1, req.user_id);
      if (st.step()) {
        current = st.column_int(0);
      }
    }
    if (current + req.amount > req.balance_cap) {
      out.kind = Kind::BalanceLimitExceeded;
      return out;
    }
    const Money after = current + req.amount;
    CONCERTD_ASSERT(after >= 0 && after <= req.balance_cap, "a balance stays within 0 and its cap");
    db.query(sql::kUpsertBalance).bind(1, req.user_id).bind(2, after).bind(3, ms(req.now)).run();
    insert_balance_history(db, req.transaction_id, req.user_id, "CHARGE", req.amount, after, req.now);
    if (req.idempotency) {
      record_idempotency(db, req.user_id, *req.idempotency, req.transaction_id, req.now);
    }
    out.kind = Kind::Charged;
    out.receipt = ChargeReceipt{req.user_id, after, req.amount, req.transaction_id};
    return out;
  });
}

Task<PaymentOutcome> SqliteStore::pay(PaymentRequest req) {
  return on(*_writer, [req = std::move(req)](JobContext& ctx) {
    using Kind = PaymentOutcome::Kind;
    Database& db = ctx.db;
    PaymentOutcome out;
    if (req.idempotency && idempotency_key_taken(db, req.user_id, *req.idempotency, req.now)) {
      out.kind = Kind::DuplicateKey;
      return out;
    }
    auto hold = load_reservation(db, req.reservation_id);
    if (hold && is_expired_hold(*hold, req.now)) {
      release_hold(db, *hold, req.now, ctx.released);
      hold.reset();
    }
    if (!hold || hold->user_id != req.user_id || hold->status != ReservationStatus::TemporarilyAssigned) {
      out.kind = Kind::InvalidReservation;
      return out;
    }
    Money current = 0;
    {
      auto st = db.query(sql::kBalanceOf);
      st.bind(1, req.user_id);
      if (st.step()) {
        current = st.column_int(0);
      }
    }
    if (current < hold->price) {
      out.kind = Kind::InsufficientBalance;
      out.current_balance = current;
      out.required_amount = hold->price;
      return out;
    }
    db.query(sql::kDebit).bind(1, req.user_id).bind(2, hold->price).bind(3, ms(req.now)).run();
    CONCERTD_ASSERT(db.changes() == 1, "a balance found sufficient under the write lock takes the debit");
    const Money after = current - hold->price;
    CONCERTD_ASSERT(after >= 0, "a balance is never negative");
    db.query(sql::kSellSeat).bind(1, hold->concert_id).bind(2, hold->seat_number).bind(3, hold->id).run();
    CONCERTD_ASSERT(db.changes() == 1, "a live hold's seat is held by it until paid: a seat is sold once");
    record_payment(db, req, *hold, after);
    db.query(sql::kSpendToken).bind(1, req.token_id).bind(2, ms(req.now)).run();
    if (req.idempotency) {
      record_idempotency(db, req.user_id, *req.idempotency, req.payment_id, req.now);
    }
    out.kind = Kind::Paid;
    out.receipt = PaymentReceipt{req.payment_id, hold->id, hold->concert_id, hold->seat_number, hold->price, after};
    return out;
  });
}

Task<std::optional<ChargeReceipt>> SqliteStore::charge_receipt(std::string transaction_id) {
  return on(reader(), [id = std::move(transaction_id)](JobContext& ctx) -> std::optional<ChargeReceipt> {
    auto st = ctx.db.query(sql::kChargeReceipt);
    st.bind(1, id);
    if (!st.step()) {
      return std::nullopt;
    }
    return ChargeReceipt{st.column_text(0), st.column_int(1), st.column_int(2), id};
  });
}

Task<std::optional<PaymentReceipt>> SqliteStore::payment_receipt(std::string payment_id) {
  return on(reader(), [id = std::move(payment_id)](JobContext& ctx) -> std::optional<PaymentReceipt> {
    auto st = ctx.db.query(sql::kPaymentReceipt);
    st.bind(1, id);
    if (!st.step()) {
      return std::nullopt;
    }
    return PaymentReceipt{id,
                          st.column_text(0),
                          st.column_int(1),
                          static_cast<int>(st.column_int(2)),
                          st.column_int(3),
                          st.column_int(4)};
  });
}

Task<std::optional<IdempotencyRecord>> SqliteStore::find_idempotency(std::string user_id, std::string key,
                                                                     Timestamp now) {
  return on(
      reader(),
      [user_id = std::move(user_id), key = std::move(key), now](JobContext& ctx) -> std::optional<IdempotencyRecord> {
        auto st = ctx.db.query(sql::kFindIdempotency);
        st.bind(1, user_id).bind(2, key).bind(3, ms(now - kIdempotencyWindow));
        if (!st.step()) {
          return std::nullopt;
        }
        return IdempotencyRecord{st.column_text(0), st.column_text(1), st.column_text(2)};
      });
}

// ---- tokens and settings -------------------------------------------------------------------------

Task<void> SqliteStore::save_token(TokenRecord t) {
  return on(*_writer, [t = std::move(t)](JobContext& ctx) {
    ctx.db.query(sql::kInsertToken)
        .bind(1, t.id)
        .bind(2, t.user_id)
        .bind(3, t.seq)
        .bind(4, std::string_view(token_state_name(t.state)))
        .bind(5, ms(t.issued_at))
        .bind(6, optional_ms(t.active_until))
        .bind(7, optional_ms(t.spent_at))
        .run();
  });
}

Task<std::vector<std::size_t>> SqliteStore::update_tokens(std::vector<TokenChange> changes) {
  // One writer orders every insert before the changes made after it, so a change matches nothing
  // only when its token is really gone (forgotten after a failed insert, or purged).
  return on(*_writer, [changes = std::move(changes)](JobContext& ctx) {
    std::vector<std::size_t> unmatched;
    for (std::size_t i = 0; i < changes.size(); ++i) {
      const auto& c = changes[i];
      ctx.db.query(sql::kUpdateToken)
          .bind(1, c.token_id)
          .bind(2, std::string_view(token_state_name(c.state)))
          .bind(3, optional_ms(c.active_until))
          .bind(4, optional_ms(c.spent_at))
          .run();
      if (ctx.db.changes() == 0 && !ctx.db.query(sql::kTokenExists).bind(1, c.token_id).step()) {
        unmatched.push_back(i);
      }
    }
    return unmatched;
  });
}

Task<std::vector<TokenRecord>> SqliteStore::load_live_tokens(Timestamp spent_since) {
  return on(reader(), [spent_since](JobContext& ctx) {
    std::vector<TokenRecord> out;
    auto st = ctx.db.query(sql::kLiveTokens);
    st.bind(1, ms(spent_since));
    while (st.step()) {
      out.push_back(TokenRecord{st.column_text(0), st.column_text(1), st.column_int(2),
                                token_state_from(st.column_text(3)), from_millis(st.column_int(4)),
                                optional_time(st.column_optional_int(5)), optional_time(st.column_optional_int(6))});
    }
    return out;
  });
}

namespace {

OpeningRecord opening_of(Statement& st) {
  auto ids = std::make_shared<const std::vector<std::string>>(split_token_ids(st.column_text(4)));
  return OpeningRecord{from_millis(st.column_int(0)), st.column_text(1), st.column_int(2), st.column_int(3),
                       std::move(ids)};
}

}  // namespace

Task<OpeningRecord> SqliteStore::record_opening(OpeningRecord record) {
  // The ids are joined on the writer thread, not the event loop's.
  return on(*_writer, [record = std::move(record)](JobContext& ctx) {
    ctx.db.query(sql::kRecordOpening)
        .bind(1, ms(record.opens_at))
        .bind(2, record.seed)
        .bind(3, record.first_seq)
        .bind(4, record.block_size)
        .bind(5, join_token_ids(*record.token_ids))
        .run();
    if (ctx.db.changes() == 1) {
      return record;
    }
    auto st = ctx.db.query(sql::kOpeningAt);
    st.bind(1, ms(record.opens_at));
    CONCERTD_ASSERT(st.step(), "an opening record that refused the insert is there within the same transaction");
    return opening_of(st);
  });
}

Task<std::optional<OpeningRecord>> SqliteStore::last_opening() {
  return on(reader(), [](JobContext& ctx) -> std::optional<OpeningRecord> {
    auto st = ctx.db.query(sql::kLastOpening);
    if (!st.step()) {
      return std::nullopt;
    }
    return opening_of(st);
  });
}

Task<std::vector<std::size_t>> SqliteStore::place_tokens(std::vector<PlacedToken> placed) {
  // One writer orders every insert before this job, so a token not found was never stored.
  return on(*_writer, [placed = std::move(placed)](JobContext& ctx) {
    std::vector<std::size_t> unmatched;
    for (std::size_t i = 0; i < placed.size(); ++i) {
      ctx.db.query(sql::kPlaceToken).bind(1, placed[i].token_id).bind(2, placed[i].seq).run();
      if (ctx.db.changes() == 0 && !ctx.db.query(sql::kTokenExists).bind(1, placed[i].token_id).step()) {
        unmatched.push_back(i);
      }
    }
    return unmatched;
  });
}

Task<std::map<std::string, std::string>> SqliteStore::load_settings() {
  return on(reader(), [](JobContext& ctx) {
    std::map<std::string, std::string> rows;
    auto st = ctx.db.query(sql::kAllSettings);
    while (st.step()) {
      rows.emplace(st.column_text(0), st.column_text(1));
    }
    return rows;
  });
}

Task<void> SqliteStore::put_settings(std::map<std::string, std::string> rows) {
  return on(*_writer, [rows = std::move(rows)](JobContext& ctx) {
    for (const auto& [name, value] : rows) {
      ctx.db.query(sql::kPutSetting).bind(1, name).bind(2, value).run();
    }
  });
}

Task<std::string> SqliteStore::claim_setting(std::string name, std::string value) {
  return on(*_writer, [name = std::move(name), value = std::move(value)](JobContext& ctx) {
    ctx.db.query(sql::kInsertSettingIfAbsent).bind(1, name).bind(2, value).run();
    auto st = ctx.db.query(sql::kGetSetting);
    st.bind(1, name);
    CONCERTD_ASSERT(st.step(), "a setting inserted-if-absent is there within the same transaction");
    return st.column_text(0);
  });
}

Task<void> SqliteStore::purge(Timestamp before) {
  return on(*_writer, [before](JobContext& ctx) {
    ctx.db.query(sql::kPurgeIdempotency).bind(1, ms(before)).bind(2, std::int64_t{kPurgeBatch}).run();
    ctx.db.query(sql::kPurgeTokens).bind(1, ms(before)).bind(2, std::int64_t{kPurgeBatch}).run();
  });
}

}  // namespace concertd::sqlite
