#pragma once
// Diagrams 1 and 2: issuing queue tokens, their status, and the checks every protected endpoint
// makes of a bearer token.
#include <optional>
#include <string>
#include <vector>

#include "domain/queue_rules.hpp"
#include "domain/token_signer.hpp"
#include "ports/clock.hpp"
#include "ports/coordinator.hpp"
#include "ports/store.hpp"
#include "services/config.hpp"
#include "services/waiting_room.hpp"

namespace concertd {

struct QueueTicket {
  TokenView token;
  std::string signed_token;  // issue only: what the fan presents (token id, user, issue time, signed)
  bool created = false;
  std::optional<WaitEstimate> wait;  // while waiting
  /// In the pre-queue: the opening it waits for, and when to ask again.
  std::optional<Timestamp> opens_at;
  int pre_queue_poll_seconds = 1;
};

/// What an endpoint needs of the token presented to it.
enum class TokenUse {
  Status,  // waiting or active
  Hold,    // active only
  Grace,   // active, or spent within hold-ttl (reading, cancelling, charging, paying)
};

class QueueService {
 public:
  QueueService(Store& store, Coordinator& coordinator, const Clock& clock, const ServiceConfig& config,
               WaitingRoom& room);

  /// The keys tokens are signed with: `given` (--token-keys), else the store's, made and kept
  /// there on the first start, so that every instance on a store agrees and a restart logs
  /// nobody out. Before the first request.
  Task<void> load_token_keys(std::optional<std::vector<TokenKey>> given);

  /// The user's live token, or a new one placed at the back; a new one is stored before return.
  Task<QueueTicket> issue(const std::string& user_id);
  /// Counts as a poll. Forged, unknown, dropped or spent: 401 INVALID_TOKEN (a forged one
  /// without asking the line). `memo` (may be null) is the connection's, read and updated
  /// before the first suspension.
  Task<QueueTicket> status(std::string_view token, VerifiedTokenMemo* memo = nullptr);
  /// Checks in the contract's order: 401, then 403 FORBIDDEN when `acting_user` differs.
  /// `token` must outlive the call (it is read before the first suspension); `memo` as for status.
  Task<TokenView> authenticate(std::string_view token, TokenUse use, const std::string* acting_user = nullptr,
                               VerifiedTokenMemo* memo = nullptr);
  /// 403 TOKEN_NOT_ACTIVE (with position) for a waiting token.
  void require_admitted(const TokenView& token) const;

  /// One admission round: head of the line into free slots, expiries, idle drops; the state
  /// changes are written to the store (kept and retried if that fails).
  Task<void> tick();
  /// Puts the stored live tokens back into the coordinator after a start.
  Task<void> restore();
  Task<QueueStats> stats();
  WaitEstimate estimate(std::int64_t position, const QueueStats& stats) const;

 private:
  /// A change not yet in the store: its write failed, or its token was not stored yet.
  struct UnsavedChange {
    TokenChange change;
    std::optional<Timestamp> unmatched_since;  // first time it matched no stored token
  };
  /// Writes the oldest unsaved changes, at most one write's worth; those whose token is not
  /// stored yet stay at the front, in order, until their patience runs out.
  Task<void> save_changes(Timestamp now);
  /// Copies of the changes in _unsaved[first, end), as a store write takes them.
  std::vector<TokenChange> unsaved_changes(std::size_t first, std::size_t end) const;

  /// The token id of a bearer token whose signature verifies, else 401 INVALID_TOKEN.
  std::string verified_id(std::string_view token, VerifiedTokenMemo* memo) const;
  QueueTicket ticket_of(const TokenView& token, bool created, const std::optional<QueueStats>& stats) const;

  Store& _store;
  Coordinator& _coordinator;
  const Clock& _clock;
  ServiceConfig _config;
  WaitingRoom& _room;
  std::optional<TokenSigner> _signer;
  std::uint64_t _keys_generation = 0;   // counts key loads; a memo from another load is not trusted
  std::vector<UnsavedChange> _unsaved;  // in the order the line made them
};

}  // namespace concertd
