#pragma once
// The distributed Store: PostgreSQL through libpq in nonblocking mode, driven by the server's
// Asio event loop (no thread blocks on the database). A bounded pool of connections per
// instance; every Store operation is one transaction with the same outcomes as the SQLite store.
#include <cstddef>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "ports/store.hpp"

namespace concertd::postgres {

class PgStore final : public Store {
 public:
  /// `uri`: a postgresql:// connection URI. Nothing connects until start().
  PgStore(boost::asio::any_io_executor executor, std::string uri, std::size_t pool_size, ReleaseListener on_release);
  ~PgStore() override;

  /// Connects the pool and applies the migrations (under an advisory lock, so that instances
  /// may start together). Throws when the database cannot be reached.
  Task<void> start();

  Task<bool> ping() override;
  Task<ConcertId> create_concert(NewConcert concert) override;
  Task<std::int64_t> count_concerts() override;
  Task<std::optional<ConcertInfo>> concert_info(ConcertId id) override;
  Task<std::vector<ConcertSummary>> available_concerts(Date today, Timestamp now) override;
  Task<std::optional<SeatMap>> seat_map(ConcertId id, Timestamp now) override;
  Task<SalesSummary> sales_summary(Timestamp now, std::size_t max_concerts) override;
  Task<HoldOutcome> hold_seat(HoldRequest request) override;
  Task<std::optional<Reservation>> find_reservation(std::string id, Timestamp now) override;
  Task<CancelOutcome> cancel_reservation(std::string id, std::string user_id, Timestamp now) override;
  Task<std::vector<Reservation>> release_expired(Timestamp now, int limit) override;
  Task<BalanceView> balance(std::string user_id) override;
  Task<ChargeOutcome> charge(ChargeRequest request) override;
  Task<PaymentOutcome> pay(PaymentRequest request) override;
  Task<std::optional<ChargeReceipt>> charge_receipt(std::string transaction_id) override;
  Task<std::optional<PaymentReceipt>> payment_receipt(std::string payment_id) override;
  Task<std::optional<IdempotencyRecord>> find_idempotency(std::string user_id, std::string key, Timestamp now) override;
  Task<void> save_token(TokenRecord token) override;
  Task<std::vector<std::size_t>> update_tokens(std::vector<TokenChange> changes) override;
  Task<std::vector<TokenRecord>> load_live_tokens(Timestamp spent_since) override;
  Task<OpeningRecord> record_opening(OpeningRecord record) override;
  Task<std::optional<OpeningRecord>> last_opening() override;
  Task<std::vector<std::size_t>> place_tokens(std::vector<PlacedToken> placed) override;
  Task<std::map<std::string, std::string>> load_settings() override;
  Task<void> put_settings(std::map<std::string, std::string> rows) override;
  Task<std::string> claim_setting(std::string name, std::string value) override;
  Task<void> purge(Timestamp before) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> _impl;
};

}  // namespace concertd::postgres
