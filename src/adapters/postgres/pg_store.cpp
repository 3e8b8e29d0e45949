// Placeholder until the adapter lands: every call reports the engine unavailable.
#include "adapters/postgres/pg_store.hpp"

#include "domain/errors.hpp"

namespace concertd::postgres {

struct PgStore::Impl {};

PgStore::PgStore(boost::asio::any_io_executor, std::string, std::size_t, ReleaseListener) : _impl(std::make_unique<Impl>()) {  }
PgStore::~PgStore() = default;
Task<void> PgStore::start() { throw Unavailable("start: not implemented"); }
Task<bool> PgStore::ping() { throw Unavailable("ping: not implemented"); }
Task<ConcertId> PgStore::create_concert(NewConcert concert) { throw Unavailable("create_concert: not implemented"); }
Task<std::int64_t> PgStore::count_concerts() { throw Unavailable("count_concerts: not implemented"); }
Task<std::optional<ConcertInfo>> PgStore::concert_info(ConcertId id) { throw Unavailable("concert_info: not implemented"); }
Task<std::vector<ConcertSummary>> PgStore::available_concerts(Date today, Timestamp now) { throw Unavailable("available_concerts: not implemented"); }
Task<std::optional<SeatMap>> PgStore::seat_map(ConcertId id, Timestamp now) { throw Unavailable("seat_map: not implemented"); }
Task<HoldOutcome> PgStore::hold_seat(HoldRequest request) { throw Unavailable("hold_seat: not implemented"); }
Task<std::optional<Reservation>> PgStore::find_reservation(std::string id, Timestamp now) { throw Unavailable("find_reservation: not implemented"); }
Task<CancelOutcome> PgStore::cancel_reservation(std::string id, std::string user_id, Timestamp now) { throw Unavailable("cancel_reservation: not implemented"); }
Task<std::vector<Reservation>> PgStore::release_expired(Timestamp now, int limit) { throw Unavailable("release_expired: not implemented"); }
Task<BalanceView> PgStore::balance(std::string user_id) { throw Unavailable("balance: not implemented"); }
Task<ChargeOutcome> PgStore::charge(ChargeRequest request) { throw Unavailable("charge: not implemented"); }
Task<PaymentOutcome> PgStore::pay(PaymentRequest request) { throw Unavailable("pay: not implemented"); }
Task<std::optional<ChargeReceipt>> PgStore::charge_receipt(std::string transaction_id) { throw Unavailable("charge_receipt: not implemented"); }
Task<std::optional<PaymentReceipt>> PgStore::payment_receipt(std::string payment_id) { throw Unavailable("payment_receipt: not implemented"); }
Task<std::optional<IdempotencyRecord>> PgStore::find_idempotency(std::string user_id, std::string key, Timestamp now) { throw Unavailable("find_idempotency: not implemented"); }
Task<void> PgStore::save_token(TokenRecord token) { throw Unavailable("save_token: not implemented"); }
Task<void> PgStore::update_tokens(std::vector<TokenChange> changes) { throw Unavailable("update_tokens: not implemented"); }
Task<std::vector<TokenRecord>> PgStore::load_live_tokens(Timestamp spent_since) { throw Unavailable("load_live_tokens: not implemented"); }
Task<std::optional<std::string>> PgStore::get_setting(std::string name) { throw Unavailable("get_setting: not implemented"); }
Task<void> PgStore::put_setting(std::string name, std::string value) { throw Unavailable("put_setting: not implemented"); }
Task<void> PgStore::purge(Timestamp before) { throw Unavailable("purge: not implemented"); }

}  // namespace concertd::postgres
