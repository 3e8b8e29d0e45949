#pragma once
// The service graph of one concertd instance over a given Store, Coordinator and Clock: the
// services, the HTTP routes, and the background jobs. The server binary, the fuzzers and the
// tests build the same thing; only the adapters and the transport differ.
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "http/handlers/app.hpp"
#include "http/metrics.hpp"
#include "http/router.hpp"
#include "ports/clock.hpp"
#include "ports/coordinator.hpp"
#include "ports/store.hpp"
#include "services/balance_service.hpp"
#include "services/concert_service.hpp"
#include "services/config.hpp"
#include "services/expiry_service.hpp"
#include "services/idempotency.hpp"
#include "services/payment_service.hpp"
#include "services/queue_service.hpp"
#include "services/reservation_service.hpp"
#include "services/waiting_room.hpp"

namespace concertd {

/// What a start decides of the waiting room beyond the stored settings.
struct RoomStart {
  RoomChange explicit_flags;  // settings given explicitly at this start: they override the store's
  std::optional<std::vector<TokenKey>> token_keys;  // --token-keys; else the store's
};

class Application {
 public:
  Application(Store& store, Coordinator& coordinator, const Clock& clock, const ServiceConfig& config,
              std::string admin_key, http::Metrics& metrics, http::EdgeConfig edge = {});
  Application(const Application&) = delete;
  Application& operator=(const Application&) = delete;

  /// Loads the waiting room's settings and token keys, rebuilds the waiting line from the store
  /// and, when asked and the store is empty, creates the demo concerts. Run before the first
  /// request is served.
  boost::asio::awaitable<void> prepare(bool demo, RoomStart room = {});
  /// The admission tick, the release job and the purge, each on its own timer, until the
  /// executor's context stops.
  void start_background_jobs(const boost::asio::any_io_executor& executor);
  /// Ends the background jobs: none starts another step, a step already running is finished.
  boost::asio::awaitable<void> stop_background_jobs();
  /// One round of the admission tick and the release job, for callers that drive time
  /// themselves (the fuzzers) instead of running the timers.
  boost::asio::awaitable<void> run_jobs_once();

  const http::Router& router() const { return _router; }

  struct Jobs;

 private:
  Store& _store;
  Coordinator& _coordinator;
  const Clock& _clock;
  WaitingRoom _room;
  QueueService _queue;
  ConcertService _concerts;
  ReservationService _reservations;
  BalanceService _balances;
  PaymentService _payments;
  IdempotencyKeys _idempotency;
  ExpiryService _expiry;
  http::Edge _edge;
  http::Assets _assets;  // the pages, gzipped once at start
  http::App _app;
  http::Router _router;
  std::shared_ptr<Jobs> _jobs;  // from start_background_jobs() on; shared with the running jobs
};

}  // namespace concertd
