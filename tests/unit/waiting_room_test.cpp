// The waiting room with an injected clock: the opening's draw, the outflow budget, pause, the
// settings' rows, and a forged token turned away without asking the line.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "adapters/memory/memory_coordinator.hpp"
#include "adapters/sqlite/sqlite_store.hpp"
#include "domain/errors.hpp"
#include "domain/waiting_room.hpp"
#include "services/queue_service.hpp"
#include "services/waiting_room.hpp"
#include "test_support.hpp"

namespace concertd {
namespace {

using testing::FakeClock;
using testing::run;

// ---- the draw -----------------------------------------------------------------------------------

TEST(OpeningOrder, IsAPermutationReproducibleFromTheSeedAlone) {
  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    ids.push_back("tok-" + std::to_string(i));
  }
  const std::string seed(64, '7');
  const auto order = opening_order(seed, ids);
  ASSERT_EQ(order.size(), ids.size());
  EXPECT_EQ(std::set<std::string>(order.begin(), order.end()), std::set<std::string>(ids.begin(), ids.end()));
  // The same seed and set, given in another order: the same draw.
  std::vector<std::string> shuffled(ids.rbegin(), ids.rend());
  EXPECT_EQ(opening_order(seed, shuffled), order);
  // Another seed: another order (1000! orders; equal by chance never).
  EXPECT_NE(opening_order(std::string(64, '8'), ids), order);
  // Not the issue order.
  EXPECT_NE(order, ids);
}

TEST(OpeningOrder, RanksBySha256OfSeedColonIdAsTheAuditScriptDoes) {
  // python3 -c "import hashlib; print(sorted('abcde', key=lambda i:
  // hashlib.sha256(('00'*32+':'+i).encode()).digest()))"
  EXPECT_EQ(opening_order(std::string(64, '0'), {"a", "b", "c", "d", "e"}),
            (std::vector<std::string>{"c", "d", "b", "a", "e"}));
}

TEST(OpeningOrder, AGoneIdChangesNobodyElsesOrder) {
  const std::string seed = draw_shuffle_seed();
  EXPECT_EQ(seed.size(), 64u);
  const auto all = opening_order(seed, {"p", "q", "r", "s", "t", "u"});
  auto without = all;
  without.erase(std::find(without.begin(), without.end(), "r"));
  EXPECT_EQ(opening_order(seed, {"p", "q", "s", "t", "u"}), without);
}

// ---- the outflow budget -------------------------------------------------------------------------

TEST(AdmissionBudget, AdmitsAtTheSetRateSpreadEvenlyOverTheMinute) {
  AdmissionBudget budget;
  const std::int64_t start = 1'000'000;
  std::vector<std::int64_t> admitted_at;
  // A tick every 10 ms for two minutes, each taking as many admissions as the budget gives.
  for (std::int64_t t = start; t < start + 120'000; t += 10) {
    while (budget.take(t, 600)) {
      admitted_at.push_back(t);
    }
  }
  // 600 a minute: 1,200 in two minutes, plus the first tenth of a second's worth held at start.
  EXPECT_GE(admitted_at.size(), 1199u);
  EXPECT_LE(admitted_at.size(), 1201u);
  // Evenly: no second admits more than its 10 and the burst of 100 ms (1 admission).
  for (std::int64_t second = start; second < start + 120'000; second += 1000) {
    const auto n = std::count_if(admitted_at.begin(), admitted_at.end(),
                                 [&](std::int64_t t) { return t >= second && t < second + 1000; });
    EXPECT_LE(n, 11) << "second " << (second - start) / 1000;
    EXPECT_GE(n, 9) << "second " << (second - start) / 1000;
  }
}

TEST(AdmissionBudget, ASlowCapWaitsItsTurnAndALongIdleDoesNotBurst) {
  AdmissionBudget budget;
  EXPECT_TRUE(budget.take(0, 1));  // one admission's credit at the start
  EXPECT_FALSE(budget.take(59'999, 1));
  EXPECT_TRUE(budget.take(60'000, 1));
  // An hour idle at 60,000 a minute: no more than 100 ms' worth (100) at once.
  int burst = 0;
  while (budget.take(3'660'000, 60'000) && burst < 1000) {
    ++burst;
  }
  EXPECT_EQ(burst, 100);
}

// ---- settings rows ------------------------------------------------------------------------------

TEST(RoomSettings, RowsRoundTripAndClearOptionals) {
  RoomSettings s;
  s.max_active = 7;
  s.admit_per_minute = 120;
  s.paused = true;
  s.opens_at = from_millis(1'800'000'000'000);
  s.opened_for = s.opens_at;
  s.opened_at = from_millis(1'800'000'000'123);
  s.shuffle_seed = "ab";
  EXPECT_EQ(room_from_rows(room_rows(s), RoomSettings{}), s);
  RoomSettings cleared = s;
  cleared.admit_per_minute.reset();
  cleared.opens_at.reset();
  auto rows = room_rows(s);
  for (auto& [name, value] : room_rows(cleared)) {
    rows[name] = value;
  }
  const RoomSettings read = room_from_rows(rows, RoomSettings{});
  EXPECT_FALSE(read.admit_per_minute);
  EXPECT_FALSE(read.opens_at);
  EXPECT_EQ(read.max_active, 7);
  // A hand-edited row that does not parse keeps the default.
  EXPECT_EQ(room_from_rows({{"room.max_active", "lots"}}, RoomSettings{42}).max_active, 42);
}

// ---- the line under the room's settings -----------------------------------------------------------

class RoomLineTest : public ::testing::Test {
 protected:
  RoomLineTest() : line(QueueLimits{2, Seconds{600}, Seconds{60}, Seconds{300}}, clock) {}

  IssueResult issue(const std::string& user) {
    TokenRecord candidate;
    candidate.id = "tok-" + user;
    candidate.user_id = user;
    candidate.issued_at = clock.now();
    return line.issue_now(candidate, clock.now());
  }
  TokenView find(const std::string& user) { return line.find_now("tok-" + user, clock.now(), true).value(); }

  FakeClock clock;
  MemoryCoordinator line;
  RoomSettings room{2};
};

TEST_F(RoomLineTest, APausedRoomAdmitsNobodyAndKeepsPlaces) {
  room.paused = true;
  line.configure(room);
  EXPECT_EQ(issue("a").token.state, TokenState::Waiting);  // slots free, but paused
  issue("b");
  issue("c");
  line.tick_now(clock.now());
  EXPECT_EQ(find("a").state, TokenState::Waiting);
  EXPECT_EQ(find("c").position, 3);
  room.paused = false;
  line.configure(room);
  line.tick_now(clock.now());
  EXPECT_EQ(find("a").state, TokenState::Active);
  EXPECT_EQ(find("b").state, TokenState::Active);
  EXPECT_EQ(find("c").position, 1);
}

TEST_F(RoomLineTest, LoweringMaxActiveEvictsNobody) {
  issue("a");
  issue("b");
  issue("c");
  room.max_active = 1;
  line.configure(room);
  line.tick_now(clock.now());
  EXPECT_EQ(find("a").state, TokenState::Active);
  EXPECT_EQ(find("b").state, TokenState::Active);
  EXPECT_EQ(find("c").state, TokenState::Waiting);
}

TEST_F(RoomLineTest, TheOutflowCapAdmitsAtItsRateThroughTicks) {
  room.max_active = 1000;
  room.admit_per_minute = 60;  // one a second
  line.configure(room);
  for (int i = 0; i < 20; ++i) {
    issue("u" + std::to_string(i));  // the first is admitted at once (the budget's initial credit)
  }
  int active = 0;
  for (int step = 0; step < 100; ++step) {  // ten seconds of ticks every 100 ms
    clock.advance(Millis{100});
    line.tick_now(clock.now());
  }
  for (int i = 0; i < 20; ++i) {
    active += find("u" + std::to_string(i)).state == TokenState::Active ? 1 : 0;
  }
  EXPECT_EQ(active, 11);  // 1 at once + 10 over ten seconds
}

TEST_F(RoomLineTest, PreQueueWaitsForItsOpeningAndLateArrivalsGoBehindIt) {
  issue("early");  // active: before any opening is set
  room.opens_at = clock.now() + Seconds{10};
  line.configure(room);
  for (const char* u : {"p1", "p2", "p3", "p4"}) {
    EXPECT_EQ(issue(u).token.state, TokenState::PreQueue);
  }
  EXPECT_EQ(issue("p1").token.state, TokenState::PreQueue);   // asking again: the same token
  EXPECT_FALSE(line.claim_opening_now(clock.now(), "seed"));  // not due yet
  clock.advance(Seconds{10});
  auto claim = line.claim_opening_now(clock.now(), "seed");
  ASSERT_TRUE(claim);
  EXPECT_EQ(claim->token_ids->size(), 4u);
  EXPECT_FALSE(line.claim_opening_now(clock.now(), "other"));  // exactly once
  // A fan arriving now waits behind the whole pre-queue, even before it is placed.
  EXPECT_EQ(issue("late").token.state, TokenState::Waiting);
  EXPECT_EQ(find("late").position, 5);
  line.tick_now(clock.now());
  EXPECT_EQ(find("late").state, TokenState::Waiting);  // no admission while the opening is placed
  const auto order = opening_order(claim->seed, *claim->token_ids);
  line.place_opened_now(claim->opens_at, {order[0], order[1]}, claim->first_seq, false, clock.now());
  EXPECT_EQ(find("late").position, 5);  // never grows while the block fills
  line.place_opened_now(claim->opens_at, {order[2], order[3]}, claim->first_seq + 2, true, clock.now());
  for (std::size_t k = 0; k < order.size(); ++k) {
    EXPECT_EQ(line.find_now(order[k], clock.now(), true)->position, static_cast<std::int64_t>(k) + 1);
  }
  EXPECT_EQ(find("late").position, 5);
  line.tick_now(clock.now());
  EXPECT_EQ(line.find_now(order[0], clock.now(), true)->state, TokenState::Active);  // one slot was free
}

TEST_F(RoomLineTest, AnUnfinishedOpeningIsHandedOutAgainAfterItsLease) {
  room.opens_at = clock.now();
  line.configure(room);
  clock.advance(Millis{1});
  const auto first = line.claim_opening_now(clock.now(), "seed-1");
  ASSERT_TRUE(first);
  clock.advance(kOpeningLease);
  const auto again = line.claim_opening_now(clock.now(), "seed-2");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->seed, "seed-1");
  EXPECT_EQ(again->first_seq, first->first_seq);
}

// ---- the service: opening end to end, restart, forged tokens ---------------------------------------

/// A Coordinator that counts the calls reaching the line.
class CountingCoordinator final : public Coordinator {
 public:
  explicit CountingCoordinator(Coordinator& inner) : _inner(inner) {}
  int calls = 0;

  Task<bool> ping() override { return counted(_inner.ping()); }
  Task<IssueResult> issue(TokenRecord c, Timestamp now) override { return counted(_inner.issue(std::move(c), now)); }
  Task<void> forget(std::string id) override { return counted(_inner.forget(std::move(id))); }
  Task<std::optional<TokenView>> find(std::string id, Timestamp now, bool poll) override {
    return counted(_inner.find(std::move(id), now, poll));
  }
  Task<Poll> poll(std::string id, Timestamp now) override { return counted(_inner.poll(std::move(id), now)); }
  Task<void> spend(std::string id, Timestamp now) override { return counted(_inner.spend(std::move(id), now)); }
  Task<QueueChanges> tick(Timestamp now) override { return counted(_inner.tick(now)); }
  Task<void> restore(std::vector<TokenRecord> t, Timestamp now) override {
    return counted(_inner.restore(std::move(t), now));
  }
  Task<QueueStats> stats(Timestamp now) override { return counted(_inner.stats(now)); }
  void configure(const RoomSettings& room) override { _inner.configure(room); }
  Task<std::optional<OpeningClaim>> claim_opening(Timestamp now, std::string seed) override {
    return counted(_inner.claim_opening(now, std::move(seed)));
  }
  Task<void> place_opened(Timestamp at, std::vector<std::string> ids, std::int64_t first, bool last,
                          Timestamp now) override {
    return counted(_inner.place_opened(at, std::move(ids), first, last, now));
  }
  Task<bool> try_lock_seat(ConcertId c, int s, std::string o, Millis ttl) override {
    return counted(_inner.try_lock_seat(c, s, std::move(o), ttl));
  }
  Task<void> unlock_seat(ConcertId c, int s, std::string o) override {
    return counted(_inner.unlock_seat(c, s, std::move(o)));
  }
  Task<bool> begin_idempotent(std::string scope, Millis ttl) override {
    return counted(_inner.begin_idempotent(std::move(scope), ttl));
  }
  Task<void> end_idempotent(std::string scope) override { return counted(_inner.end_idempotent(std::move(scope))); }

 private:
  template <class T>
  Task<T> counted(Task<T> task) {
    ++calls;
    return task;
  }
  Coordinator& _inner;
};

std::vector<TokenKey> keys(std::initializer_list<const char*> ids) {
  std::vector<TokenKey> out;
  for (const char* id : ids) {
    out.push_back(TokenKey{id, std::string(id) + "-secret-0123456789"});
  }
  return out;
}

class RoomServiceTest : public ::testing::Test {
 protected:
  RoomServiceTest()
      : store(":memory:", {}),
        memory(QueueLimits{1, Seconds{600}, Seconds{300}, Seconds{300}}, clock),
        counting(memory),
        room(store, counting, clock, RoomSettings{1}),
        queue(store, counting, clock, config, room) {
    run(io, queue.load_token_keys(keys({"k1"})));
  }

  /// This instance restarted on the same store: a fresh line, room and queue, started as
  /// Application::prepare starts them.
  struct Restarted {
    explicit Restarted(RoomServiceTest& t)
        : line(QueueLimits{1, Seconds{600}, Seconds{300}, Seconds{300}}, t.clock),
          room(t.store, line, t.clock, RoomSettings{1}),
          queue(t.store, line, t.clock, t.config, room) {
      run(t.io, room.start({}));
      run(t.io, queue.load_token_keys(keys({"k1"})));
      run(t.io, queue.restore());
    }
    MemoryCoordinator line;
    WaitingRoom room;
    QueueService queue;
  };

  boost::asio::io_context io;
  FakeClock clock;
  ServiceConfig config{1, Seconds{600}, Seconds{300}, Seconds{300}, 4};
  sqlite::SqliteStore store;
  MemoryCoordinator memory;
  CountingCoordinator counting;
  WaitingRoom room;
  QueueService queue;
};

TEST_F(RoomServiceTest, AForgedTokenIsRefusedWithoutAskingTheLine) {
  const QueueTicket ticket = run(io, queue.issue("alice"));
  std::string forged = ticket.signed_token;
  forged.back() = forged.back() == 'A' ? 'B' : 'A';
  const std::string legacy = ticket.token.id;  // an unsigned id, as tokens were before signing
  const int before = counting.calls;
  for (const std::string& bad : {forged, legacy, std::string("x.y"), std::string(256, 'a')}) {
    try {
      run(io, queue.status(bad));
      ADD_FAILURE() << "accepted " << bad;
    } catch (const ClientError& e) {
      EXPECT_EQ(e.code(), ErrorCode::InvalidToken);
    }
    EXPECT_THROW(run(io, queue.authenticate(bad, TokenUse::Grace)), ClientError);
  }
  EXPECT_EQ(counting.calls, before);
  run(io, queue.status(ticket.signed_token));  // the real one is looked up: the count can move
  EXPECT_EQ(counting.calls, before + 1);
}

TEST_F(RoomServiceTest, AConnectionsMemoSparesTheCheckOnlyForTheSameBytesUnderTheSameKeys) {
  const QueueTicket alice = run(io, queue.issue("alice"));
  const QueueTicket bob = run(io, queue.issue("bob"));
  VerifiedTokenMemo memo;
  EXPECT_EQ(run(io, queue.status(alice.signed_token, &memo)).token.id, alice.token.id);
  EXPECT_EQ(memo.token, alice.signed_token);
  EXPECT_EQ(memo.token_id, alice.token.id);
  EXPECT_EQ(run(io, queue.status(alice.signed_token, &memo)).token.id, alice.token.id);
  // One byte off the remembered token, in its last word or its first: checked, and refused.
  for (const std::size_t at : {alice.signed_token.size() - 1, std::size_t{0}}) {
    std::string forged = alice.signed_token;
    forged[at] = forged[at] == 'A' ? 'B' : 'A';
    EXPECT_THROW(run(io, queue.status(forged, &memo)), ClientError) << at;
    EXPECT_EQ(memo.token, alice.signed_token);  // a refused token is not remembered
  }
  // Another fan's token over the same connection (a pooling proxy): its own id, then remembered.
  EXPECT_EQ(run(io, queue.authenticate(bob.signed_token, TokenUse::Grace, nullptr, &memo)).id, bob.token.id);
  EXPECT_EQ(memo.token_id, bob.token.id);
  // Keys reloaded without the one that signed it: the memo no longer vouches for it.
  run(io, queue.load_token_keys(keys({"k2"})));
  EXPECT_THROW(run(io, queue.status(bob.signed_token, &memo)), ClientError);
}

TEST(ConstantTimeEqual, ComparesEveryByteAndTheSize) {
  const std::string text = "0123456789abcdefghij";  // two 8-byte words and a 4-byte tail
  EXPECT_TRUE(constant_time_equal(text, text));
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_FALSE(constant_time_equal(text, text.substr(0, 19)));
  EXPECT_FALSE(constant_time_equal("", "a"));
  for (std::size_t at = 0; at < text.size(); ++at) {
    std::string other = text;
    other[at] = static_cast<char>(other[at] ^ 0x01);
    EXPECT_FALSE(constant_time_equal(text, other)) << at;
  }
}

TEST_F(RoomServiceTest, KeyRotationKeepsOldTokensUntilTheirKeyIsRemoved) {
  const QueueTicket old = run(io, queue.issue("alice"));
  run(io, queue.load_token_keys(keys({"k2", "k1"})));  // a restart with a new signing key first
  EXPECT_EQ(run(io, queue.status(old.signed_token)).token.id, old.token.id);
  const QueueTicket fresh = run(io, queue.issue("bob"));
  EXPECT_NE(fresh.signed_token, old.signed_token);
  run(io, queue.load_token_keys(keys({"k2"})));  // k1 retired
  EXPECT_THROW(run(io, queue.status(old.signed_token)), ClientError);
  EXPECT_EQ(run(io, queue.status(fresh.signed_token)).token.id, fresh.token.id);
  // Asking again for the user's live token signs it with the current key: the same place back.
  const QueueTicket reissued = run(io, queue.issue("alice"));
  EXPECT_EQ(reissued.token.id, old.token.id);
  EXPECT_EQ(run(io, queue.status(reissued.signed_token)).token.id, old.token.id);
}

TEST_F(RoomServiceTest, KeysMadeOnFirstStartAreKeptInTheStore) {
  run(io, queue.load_token_keys(std::nullopt));
  const QueueTicket ticket = run(io, queue.issue("alice"));
  // Another instance on the same store (or a restart) verifies it.
  MemoryCoordinator other_line(QueueLimits{1, Seconds{600}, Seconds{300}, Seconds{300}}, clock);
  WaitingRoom other_room(store, other_line, clock, RoomSettings{1});
  QueueService other(store, other_line, clock, config, other_room);
  run(io, other.load_token_keys(std::nullopt));
  run(io, other.restore());
  EXPECT_EQ(run(io, other.status(ticket.signed_token)).token.id, ticket.token.id);
}

TEST_F(RoomServiceTest, TheOpeningPlacesThePreQueueInTheDrawnOrderAndARestartKeepsIt) {
  run(io, queue.issue("first"));  // takes the one slot
  RoomChange change;
  change.opens_at = clock.now() + Seconds{5};
  run(io, room.change(change));
  std::vector<QueueTicket> fans;
  for (int i = 0; i < 50; ++i) {
    fans.push_back(run(io, queue.issue("fan" + std::to_string(i))));
    EXPECT_EQ(fans.back().token.state, TokenState::PreQueue);
    EXPECT_EQ(fans.back().opens_at, change.opens_at);
  }
  run(io, room.open_if_due());  // not due
  EXPECT_FALSE(room.settings().shuffle_seed);
  clock.advance(Seconds{5});
  run(io, room.open_if_due());
  const RoomSettings after = room.settings();
  ASSERT_TRUE(after.shuffle_seed);
  EXPECT_EQ(after.opened_for, change.opens_at);
  const QueueTicket late = run(io, queue.issue("late"));
  EXPECT_EQ(late.token.position, 51);

  std::vector<std::string> ids;
  for (const auto& f : fans) {
    ids.push_back(f.token.id);
  }
  const auto order = opening_order(*after.shuffle_seed, ids);
  auto positions = [&](QueueService& q) {
    std::vector<std::string> by_place(fans.size());
    for (const auto& f : fans) {
      const QueueTicket t = run(io, q.status(f.signed_token));
      EXPECT_EQ(t.token.state, TokenState::Waiting);
      by_place.at(static_cast<std::size_t>(t.token.position - 1)) = f.token.id;
    }
    return by_place;
  };
  EXPECT_EQ(positions(queue), order);
  // A restart before the places were folded into the token rows: they come back from the
  // opening's record, and the opening is not run again.
  Restarted again(*this);
  run(io, again.room.open_if_due());
  EXPECT_EQ(again.room.settings().shuffle_seed, after.shuffle_seed);
  EXPECT_EQ(positions(again.queue), order);
  EXPECT_EQ(run(io, again.queue.status(late.signed_token)).token.position, 51);
  // Once folded (a write per 100 ms), a second restart reads them from the rows themselves.
  for (int i = 0; i < 3; ++i) {
    clock.advance(Millis{100});
    run(io, again.room.open_if_due());
  }
  for (auto& t : run(io, store.load_live_tokens(clock.now()))) {
    EXPECT_NE(t.state, TokenState::PreQueue) << t.id;
  }
  Restarted third(*this);
  EXPECT_EQ(positions(third.queue), order);
}

TEST_F(RoomServiceTest, AClaimNeverWrittenIsRedoneAfterARestartAheadOfLaterArrivals) {
  run(io, queue.issue("first"));  // takes the one slot
  RoomChange change;
  change.opens_at = clock.now() + Seconds{1};
  run(io, room.change(change));
  std::vector<QueueTicket> fans;
  for (int i = 0; i < 20; ++i) {
    fans.push_back(run(io, queue.issue("fan" + std::to_string(i))));
  }
  clock.advance(Seconds{1});
  // A tick claims the opening and records the claim, then the process dies before the opening
  // itself is written; a fan who arrived meanwhile was stored waiting behind the block.
  const auto claim = run(io, counting.claim_opening(clock.now(), "seed-before-the-crash"));
  ASSERT_TRUE(claim);
  run(io, store.put_settings(claim_rows({claim->opens_at, claim->seed, claim->first_seq, claim->block_size})));
  const QueueTicket late = run(io, queue.issue("late"));
  EXPECT_EQ(late.token.position, 21);

  Restarted again(*this);
  run(io, again.room.open_if_due());
  EXPECT_EQ(again.room.settings().shuffle_seed, std::optional<std::string>("seed-before-the-crash"));
  std::vector<std::string> ids;
  for (const auto& f : fans) {
    ids.push_back(f.token.id);
  }
  const auto order = opening_order("seed-before-the-crash", ids);
  for (const auto& f : fans) {
    const auto place = run(io, again.queue.status(f.signed_token)).token.position;
    EXPECT_EQ(order.at(static_cast<std::size_t>(place - 1)), f.token.id);
  }
  EXPECT_EQ(run(io, again.queue.status(late.signed_token)).token.position, 21);
}

TEST_F(RoomServiceTest, ASettingOutlivesARestartAndAnExplicitFlagOverridesIt) {
  RoomChange change;
  change.max_active = 7;
  change.admit_per_minute = std::optional<std::int64_t>(30);
  change.paused = true;
  run(io, room.change(change));
  WaitingRoom restarted(store, memory, clock, RoomSettings{1});
  run(io, restarted.start({}));
  EXPECT_EQ(restarted.settings().max_active, 7);
  EXPECT_EQ(restarted.settings().admit_per_minute, std::optional<std::int64_t>(30));
  EXPECT_TRUE(restarted.settings().paused);
  RoomChange flag;
  flag.max_active = 9;
  WaitingRoom flagged(store, memory, clock, RoomSettings{9});
  run(io, flagged.start(flag));
  EXPECT_EQ(flagged.settings().max_active, 9);
  run(io, room.refresh());  // the other instance follows the store
  EXPECT_EQ(room.settings().max_active, 9);
  EXPECT_TRUE(room.settings().paused);
}

}  // namespace
}  // namespace concertd
