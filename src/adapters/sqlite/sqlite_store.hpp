#pragma once
// The embedded Store: one SQLite file in WAL mode. Writes go to one writer thread that groups
// whatever has queued up into one transaction (worker.hpp); reads go to a second connection on its
// own thread, and a third checkpoints the log (checkpointer.hpp). This file holds the operations.
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <utility>

#include "adapters/sqlite/checkpointer.hpp"
#include "adapters/sqlite/job_bridge.hpp"
#include "adapters/sqlite/worker.hpp"
#include "ports/store.hpp"

namespace concertd::sqlite {

class SqliteStore final : public Store {
 public:
  /// `path` is a file, or ":memory:" for tests (then reads and writes share one connection).
  SqliteStore(const std::string& path, ReleaseListener on_release);
  ~SqliteStore() override;

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
  /// The seat map as last read from the file: served from memory while no seat write has
  /// committed since (JobBridge::seat_generation) and no hold in it has run out (valid_until).
  struct CachedSeatMap {
    std::uint64_t generation = 0;
    Timestamp valid_until;
    SeatMap map;
  };
  static constexpr std::size_t kMaxCachedSeatMaps = 1024;
  Task<std::pair<std::optional<SeatMap>, Timestamp>> read_seat_map(ConcertId id, Timestamp now);

  /// Runs an operation's closure on `worker`; what it did to seats is seen there (job_bridge.hpp).
  template <class Fn>
  auto on(Worker& worker, Fn fn) {
    return _jobs.on(worker, std::move(fn));
  }

  JobBridge _jobs;
  std::mutex _seat_cache_mutex;
  std::unordered_map<ConcertId, CachedSeatMap> _seat_cache;
  std::unique_ptr<Worker> _writer;
  std::unique_ptr<Worker> _reader;              // null in memory mode: the writer serves reads
  std::unique_ptr<Checkpointer> _checkpointer;  // null in memory mode
  Worker& reader() { return _reader ? *_reader : *_writer; }
};

}  // namespace concertd::sqlite
