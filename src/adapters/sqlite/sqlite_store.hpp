#pragma once
// The embedded Store: one SQLite file in WAL mode. Writes go to one writer thread that groups
// whatever has queued up into one transaction (a request that throws makes the group run again
// with a savepoint per request, so that it fails alone) and answers every request of the group
// only after the COMMIT: many holds per fsync, each acknowledged only when durable. Reads go to a second connection on
// its own thread. No SQLite call ever runs on an I/O thread.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>

#include "adapters/sqlite/sqlite_db.hpp"
#include "ports/store.hpp"

namespace concertd::sqlite {

/// One connection and the thread that owns it; jobs run in batches inside one transaction.
class Worker {
 public:
  struct Job {
    /// May run more than once: when another job of its batch throws, the whole transaction is
    /// undone and every job runs again. Each run must start from scratch and touch nothing but
    /// the database and state it resets first.
    std::function<void(Database&)> run;
    std::function<void(std::exception_ptr)> done;  // called on the worker thread after the commit
  };

  static constexpr std::size_t kMaxQueuedJobs = 65'536;
  static constexpr std::size_t kMaxBatch = 512;

  /// `writes`: batches open with BEGIN IMMEDIATE (take the write lock) instead of BEGIN.
  Worker(std::unique_ptr<Database> db, bool writes);
  ~Worker();
  /// False when the queue is full (the caller answers 503 rather than queueing without bound).
  bool submit(Job job);

 private:
  void loop();
  void run_batch(std::vector<Job>& batch);
  bool run_together(std::vector<Job>& batch, std::vector<std::exception_ptr>& errors);
  void run_apart(std::vector<Job>& batch, std::vector<std::exception_ptr>& errors);

  std::unique_ptr<Database> _db;
  bool _writes;
  std::mutex _mutex;
  std::condition_variable _wake;
  std::deque<Job> _queue;
  bool _stopping = false;
  std::thread _thread;
};

/// Checkpoints the WAL from its own connection and thread, so that the writer never stops to copy
/// pages into the database file and fsync it: that stall, every 1,000 pages, was the writes' p99.
class Checkpointer {
 public:
  static constexpr std::chrono::milliseconds kInterval{100};
  explicit Checkpointer(std::unique_ptr<Database> db);
  ~Checkpointer();

 private:
  void loop();
  std::unique_ptr<Database> _db;
  std::mutex _mutex;
  std::condition_variable _wake;
  bool _stopping = false;
  std::thread _thread;
};

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
  /// What a job sees: the connection, where to note holds it released for expiry, and where to
  /// say that it changed a seat (its commit then makes every cached seat map stale).
  struct JobContext {
    Database& db;
    std::vector<Reservation>& released;
    bool& seats_changed;
  };

  template <class Result>
  struct JobState {
    std::conditional_t<std::is_void_v<Result>, std::monostate, std::optional<Result>> result;
    std::vector<Reservation> released;
    std::function<void(JobContext&)> run;
    bool seats_changed = false;
  };

  /// Runs `fn(JobContext&)` on `worker` and resumes the caller with its result after the commit.
  template <class Fn>
  auto on(Worker& worker, Fn fn) -> Task<std::invoke_result_t<Fn&, JobContext&>>;
  template <class Result>
  Task<Result> wait_for(Worker& worker, std::shared_ptr<JobState<Result>> state);

  /// The seat map as last read from the file: served from memory while no seat write has
  /// committed since (the generation) and no hold in it has run out (valid_until).
  struct CachedSeatMap {
    std::uint64_t generation = 0;
    Timestamp valid_until;
    SeatMap map;
  };
  static constexpr std::size_t kMaxCachedSeatMaps = 1024;
  Task<std::pair<std::optional<SeatMap>, Timestamp>> read_seat_map(ConcertId id, Timestamp now);

  ReleaseListener _on_release;
  /// Bumped after the commit of every write that may change a seat, before its caller resumes:
  /// a map read under an older generation is never served after the write is acknowledged.
  std::atomic<std::uint64_t> _seat_generation{0};
  std::mutex _seat_cache_mutex;
  std::unordered_map<ConcertId, CachedSeatMap> _seat_cache;
  std::unique_ptr<Worker> _writer;
  std::unique_ptr<Worker> _reader;              // null in memory mode: the writer serves reads
  std::unique_ptr<Checkpointer> _checkpointer;  // null in memory mode
  Worker& reader() { return _reader ? *_reader : *_writer; }
};

}  // namespace concertd::sqlite
