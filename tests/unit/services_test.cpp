// The services against the real SQLite store in memory and a fake clock.
#include <gtest/gtest.h>

#include "adapters/memory/memory_coordinator.hpp"
#include "adapters/sqlite/sqlite_store.hpp"
#include "domain/errors.hpp"
#include "services/balance_service.hpp"
#include "services/concert_service.hpp"
#include "services/expiry_service.hpp"
#include "services/idempotency.hpp"
#include "services/payment_service.hpp"
#include "services/queue_service.hpp"
#include "services/reservation_service.hpp"
#include "test_support.hpp"

namespace concertd {
namespace {

using testing::FakeClock;
using testing::run;

std::vector<TokenKey> test_keys() { return {TokenKey{"test", "0123456789abcdef0123"}}; }

/// A queue service as an instance has it: with its waiting room and token keys.
struct Line {
  Line(boost::asio::io_context& io, Store& store, Coordinator& coordinator, const Clock& clock,
       const ServiceConfig& config)
      : room(store, coordinator, clock, RoomSettings{config.max_active}),
        queue(store, coordinator, clock, config, room) {
    run(io, queue.load_token_keys(test_keys()));
  }
  WaitingRoom room;
  QueueService queue;
};

class ServicesTest : public ::testing::Test {
 protected:
  ServicesTest()
      : store(":memory:", [this](const Reservation& r) { released.push_back(r.id); }),
        coordinator(config.queue_limits(), clock),
        line(io, store, coordinator, clock, config),
        concerts(store, clock),
        reservations(store, coordinator, concerts, clock, config),
        balances(store, clock),
        payments(store, coordinator, clock),
        expiry(store, clock) {
    ConcertDraft draft;
    draft.title = "Test";
    draft.venue = "Hall";
    draft.date = "2030-01-01";
    draft.seat_count = 10;
    draft.price = 50'000;
    concert = run(io, concerts.create(draft));
  }

  template <class T>
  T await(boost::asio::awaitable<T> task) {
    return run(io, std::move(task));
  }

  /// The code of the ClientError `task` throws, or a failure.
  template <class T>
  ErrorCode error_of(boost::asio::awaitable<T> task) {
    try {
      run(io, std::move(task));
    } catch (const ClientError& e) {
      return e.code();
    }
    ADD_FAILURE() << "no ClientError thrown";
    return ErrorCode::NotFound;
  }

  TokenView active_token(const std::string& user) { return await(queue.issue(user)).token; }
  /// The bearer token a fan holds for `token`.
  std::string bearer(const TokenView& token) const {
    return signer.sign({token.id, token.user_id, token.issued_at, {}});
  }

  boost::asio::io_context io;
  FakeClock clock;
  ServiceConfig config{100, Seconds{600}, Seconds{300}, Seconds{300}, 2};
  std::vector<std::string> released;
  sqlite::SqliteStore store;
  MemoryCoordinator coordinator;
  Line line;
  QueueService& queue = line.queue;
  TokenSigner signer{test_keys()};
  ConcertService concerts;
  ReservationService reservations;
  BalanceService balances;
  PaymentService payments;
  ExpiryService expiry;
  ConcertId concert = 0;
};

TEST_F(ServicesTest, ASeatIsHeldOnceAndTheHolderIsToldItsReservation) {
  const Reservation first = await(reservations.hold("alice", concert, 3));
  EXPECT_EQ(first.price, 50'000);
  EXPECT_EQ(first.expires_at, clock.now() + Seconds{300});
  EXPECT_EQ(error_of(reservations.hold("bob", concert, 3)), ErrorCode::SeatAlreadyAssigned);
  try {
    await(reservations.hold("alice", concert, 3));
    FAIL();
  } catch (const ClientError& e) {
    ASSERT_EQ(e.details().size(), 1u);
    EXPECT_EQ(std::get<std::string>(e.details()[0].value), first.id);
  }
}

TEST_F(ServicesTest, UnknownConcertAndSeatOutsideTheMapAreNotFound) {
  EXPECT_EQ(error_of(reservations.hold("alice", concert + 100, 1)), ErrorCode::ConcertNotFound);
  EXPECT_EQ(error_of(reservations.hold("alice", concert, 0)), ErrorCode::SeatNotFound);
  EXPECT_EQ(error_of(reservations.hold("alice", concert, 11)), ErrorCode::SeatNotFound);
}

TEST_F(ServicesTest, HoldLimitCountsOnlyUnexpiredHolds) {
  await(reservations.hold("alice", concert, 1));
  await(reservations.hold("alice", concert, 2));
  EXPECT_EQ(error_of(reservations.hold("alice", concert, 3)), ErrorCode::HoldLimitExceeded);
  clock.advance(Seconds{300});
  EXPECT_NO_THROW(await(reservations.hold("alice", concert, 3)));
}

TEST_F(ServicesTest, ExpiryCountsAtOnceAndIsWrittenOnce) {
  const Reservation hold = await(reservations.hold("alice", concert, 5));
  clock.advance(Seconds{299});
  EXPECT_EQ(await(reservations.get("alice", hold.id)).status, ReservationStatus::TemporarilyAssigned);
  clock.advance(Seconds{1});
  // Released for every purpose before storage caught up:
  EXPECT_EQ(await(reservations.get("alice", hold.id)).status, ReservationStatus::Expired);
  EXPECT_EQ(await(concerts.seats(concert)).seats[4].status, SeatStatus::Available);
  EXPECT_EQ(error_of(reservations.cancel("alice", hold.id)), ErrorCode::ReservationNotCancellable);
  // The cancel above was a write on that seat: it released the hold, once.
  EXPECT_EQ(released, std::vector<std::string>{hold.id});
  EXPECT_EQ(await(expiry.run_once()), 0u);
  const Reservation next = await(reservations.hold("bob", concert, 5));
  EXPECT_EQ(next.user_id, "bob");
}

TEST_F(ServicesTest, ReleaseJobReleasesEachExpiredHoldOnce) {
  const Reservation a = await(reservations.hold("alice", concert, 1));
  const Reservation b = await(reservations.hold("bob", concert, 2));
  clock.advance(Seconds{301});
  EXPECT_EQ(await(expiry.run_once()), 2u);
  EXPECT_EQ(await(expiry.run_once()), 0u);
  EXPECT_EQ(released.size(), 2u);
}

TEST_F(ServicesTest, CancelFreesTheSeatAndOnlyTheOwnerSeesTheReservation) {
  const Reservation hold = await(reservations.hold("alice", concert, 7));
  EXPECT_EQ(error_of(reservations.get("bob", hold.id)), ErrorCode::ReservationNotFound);
  EXPECT_EQ(error_of(reservations.cancel("bob", hold.id)), ErrorCode::ReservationNotFound);
  await(reservations.cancel("alice", hold.id));
  EXPECT_EQ(await(reservations.get("alice", hold.id)).status, ReservationStatus::Cancelled);
  EXPECT_EQ(error_of(reservations.cancel("alice", hold.id)), ErrorCode::ReservationNotCancellable);
  EXPECT_EQ(await(concerts.seats(concert)).seats[6].status, SeatStatus::Available);
}

TEST_F(ServicesTest, TheSeatMapServedFromMemoryFollowsEveryWriteAndTheClock) {
  // Each step reads the map first, so that a map kept from before the change would be served.
  auto status_of_seat = [&](int number) { return await(concerts.seats(concert)).seats[number - 1].status; };
  EXPECT_EQ(status_of_seat(1), SeatStatus::Available);
  const Reservation hold = await(reservations.hold("alice", concert, 1));
  EXPECT_EQ(status_of_seat(1), SeatStatus::TemporarilyAssigned);
  await(reservations.cancel("alice", hold.id));
  EXPECT_EQ(status_of_seat(1), SeatStatus::Available);
  const Reservation second = await(reservations.hold("alice", concert, 1));
  EXPECT_EQ(status_of_seat(1), SeatStatus::TemporarilyAssigned);
  clock.advance(Seconds{299});
  EXPECT_EQ(status_of_seat(1), SeatStatus::TemporarilyAssigned);
  clock.advance(Seconds{1});  // the hold runs out with no write at all
  EXPECT_EQ(status_of_seat(1), SeatStatus::Available);
  EXPECT_EQ(await(expiry.run_once()), 1u);
  EXPECT_EQ(status_of_seat(1), SeatStatus::Available);
  const TokenView token = active_token("bob");
  await(balances.charge("bob", 100'000, std::nullopt));
  const Reservation third = await(reservations.hold("bob", concert, 1));
  EXPECT_EQ(status_of_seat(1), SeatStatus::TemporarilyAssigned);
  await(payments.pay(token, third.id, std::nullopt));
  EXPECT_EQ(status_of_seat(1), SeatStatus::Reserved);
  EXPECT_NE(second.id, third.id);
}

TEST_F(ServicesTest, ChargeLimitsAndBalanceCap) {
  EXPECT_EQ(error_of(balances.charge("alice", 9'999, std::nullopt)), ErrorCode::InvalidAmount);
  EXPECT_EQ(error_of(balances.charge("alice", 1'000'001, std::nullopt)), ErrorCode::InvalidAmount);
  for (int i = 0; i < 100; ++i) {
    await(balances.charge("alice", 1'000'000, std::nullopt));
  }
  EXPECT_EQ(await(balances.get("alice")).balance, 100'000'000);
  EXPECT_EQ(error_of(balances.charge("alice", 10'000, std::nullopt)), ErrorCode::BalanceLimitExceeded);
  EXPECT_EQ(await(balances.get("nobody")).last_updated, std::nullopt);
}

TEST_F(ServicesTest, PaymentDebitsOnceConfirmsAndSpendsTheToken) {
  const TokenView token = active_token("alice");
  const Reservation hold = await(reservations.hold("alice", concert, 1));
  EXPECT_EQ(error_of(payments.pay(token, hold.id, std::nullopt)), ErrorCode::InsufficientBalance);
  await(balances.charge("alice", 60'000, std::nullopt));
  const PaymentReceipt receipt = await(payments.pay(token, hold.id, std::nullopt));
  EXPECT_EQ(receipt.amount, 50'000);
  EXPECT_EQ(receipt.balance_after, 10'000);
  EXPECT_EQ(await(balances.get("alice")).balance, 10'000);
  EXPECT_EQ(error_of(payments.pay(token, hold.id, std::nullopt)), ErrorCode::InvalidReservation);
  EXPECT_EQ(await(concerts.seats(concert)).seats[0].status, SeatStatus::Reserved);
  EXPECT_EQ(await(reservations.get("alice", hold.id)).status, ReservationStatus::Confirmed);
  // Spent: no new holds or status, but its grace still serves the user.
  EXPECT_EQ(error_of(queue.status(bearer(token))), ErrorCode::InvalidToken);
  EXPECT_EQ(error_of(queue.authenticate(bearer(token), TokenUse::Hold)), ErrorCode::InvalidToken);
  EXPECT_EQ(await(queue.authenticate(bearer(token), TokenUse::Grace)).state, TokenState::Spent);
}

TEST_F(ServicesTest, PaymentOfAnExpiredOrForeignHoldIsInvalid) {
  const TokenView alice = active_token("alice");
  const TokenView bob = active_token("bob");
  await(balances.charge("alice", 100'000, std::nullopt));
  const Reservation hold = await(reservations.hold("alice", concert, 2));
  EXPECT_EQ(error_of(payments.pay(bob, hold.id, std::nullopt)), ErrorCode::InvalidReservation);
  clock.advance(Seconds{300});
  EXPECT_EQ(error_of(payments.pay(alice, hold.id, std::nullopt)), ErrorCode::InvalidReservation);
  EXPECT_EQ(await(balances.get("alice")).balance, 100'000);
}

TEST_F(ServicesTest, IdempotencyKeyReplaysTheRecordedSuccessAndRefusesAnotherBody) {
  IdempotencyKeys keys(store, coordinator, clock);
  const IdempotencyStamp stamp{"key-1", "charge", "fp-a"};
  EXPECT_EQ(await(keys.claim("alice", stamp)), std::nullopt);
  const ChargeReceipt receipt = await(balances.charge("alice", 20'000, stamp));
  await(keys.release("alice", stamp));
  const auto recorded = await(keys.claim("alice", stamp));
  ASSERT_TRUE(recorded);
  EXPECT_EQ(*recorded, receipt.transaction_id);
  EXPECT_EQ(error_of(keys.claim("alice", IdempotencyStamp{"key-1", "charge", "fp-b"})),
            ErrorCode::IdempotencyKeyReused);
  EXPECT_EQ(error_of(keys.claim("alice", IdempotencyStamp{"key-1", "payment", "fp-a"})),
            ErrorCode::IdempotencyKeyReused);
  // Another user's key space is separate.
  EXPECT_EQ(await(keys.claim("bob", stamp)), std::nullopt);
  // While a request holds the key, another gets 409.
  EXPECT_EQ(error_of(keys.claim("bob", stamp)), ErrorCode::IdempotencyKeyInUse);
  // After 24 hours the key is free again.
  clock.advance(std::chrono::hours(24));
  EXPECT_EQ(await(keys.claim("alice", stamp)), std::nullopt);
  EXPECT_EQ(await(balances.get("alice")).balance, 20'000);
}

TEST_F(ServicesTest, TokensSurviveARestartWithTheirPlaces) {
  config.max_active = 1;
  MemoryCoordinator small(config.queue_limits(), clock);
  Line small_line(io, store, small, clock, config);
  QueueService& line = small_line.queue;
  const auto first = run(io, line.issue("u1"));
  const auto second = run(io, line.issue("u2"));
  const auto third = run(io, line.issue("u3"));
  EXPECT_EQ(first.token.state, TokenState::Active);
  EXPECT_EQ(third.token.position, 2);
  // A new coordinator (a restarted process) on the same store:
  MemoryCoordinator restarted(config.queue_limits(), clock);
  Line restarted_line(io, store, restarted, clock, config);
  QueueService& again = restarted_line.queue;
  run(io, again.restore());
  EXPECT_EQ(run(io, again.status(first.signed_token)).token.state, TokenState::Active);
  EXPECT_EQ(run(io, again.status(second.signed_token)).token.position, 1);
  EXPECT_EQ(run(io, again.status(third.signed_token)).token.position, 2);
}

/// A token placed in the line by another instance whose insert has not committed: the coordinator
/// knows it, the store does not yet.
class HeldBackChangesTest : public ServicesTest {
 protected:
  HeldBackChangesTest() { config.max_active = 1; }

  /// u1 takes the one slot, then a token of u2 arrives from elsewhere and waits; u1 is spent and
  /// the next tick admits u2's token, whose row is not stored.
  TokenRecord admit_unstored(QueueService& line, MemoryCoordinator& small) {
    const auto first = run(io, line.issue("u1"));
    TokenRecord late;
    late.id = "late-token";
    late.user_id = "u2";
    late.issued_at = clock.now();
    const IssueResult placed = run(io, small.issue(late, clock.now()));
    EXPECT_EQ(placed.token.state, TokenState::Waiting);
    late.seq = placed.token.seq;
    run(io, small.spend(first.token.id, clock.now()));
    run(io, line.tick());
    return late;
  }

  std::optional<TokenRecord> stored(const std::string& id) {
    for (auto& t : run(io, store.load_live_tokens(clock.now() - Seconds{3600}))) {
      if (t.id == id) {
        return t;
      }
    }
    return std::nullopt;
  }
};

TEST_F(HeldBackChangesTest, AChangeWaitsForItsTokensInsert) {
  MemoryCoordinator small(config.queue_limits(), clock);
  Line small_line(io, store, small, clock, config);
  QueueService& line = small_line.queue;
  TokenRecord late = admit_unstored(line, small);
  EXPECT_FALSE(stored(late.id));
  clock.advance(Millis{100});
  run(io, line.tick());             // still not stored: held back again
  run(io, store.save_token(late));  // the other instance's insert commits, as WAITING
  run(io, line.tick());
  const auto now_stored = stored(late.id);
  ASSERT_TRUE(now_stored);
  EXPECT_EQ(now_stored->state, TokenState::Active);
  EXPECT_TRUE(now_stored->active_until.has_value());
}

TEST_F(HeldBackChangesTest, AChangeWhoseTokenNeverCameIsDroppedAfterAMinute) {
  MemoryCoordinator small(config.queue_limits(), clock);
  Line small_line(io, store, small, clock, config);
  QueueService& line = small_line.queue;
  TokenRecord late = admit_unstored(line, small);
  clock.advance(Seconds{61});
  run(io, line.tick());  // past its patience: dropped
  run(io, store.save_token(late));
  run(io, line.tick());
  const auto now_stored = stored(late.id);
  ASSERT_TRUE(now_stored);
  EXPECT_EQ(now_stored->state, TokenState::Waiting);
}

}  // namespace
}  // namespace concertd
