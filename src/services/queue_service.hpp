#pragma once
// Diagrams 1 and 2: issuing queue tokens, their status, and the checks every protected endpoint
// makes of a bearer token.
#include <optional>
#include <string>
#include <vector>

#include "domain/queue_rules.hpp"
#include "ports/clock.hpp"
#include "ports/coordinator.hpp"
#include "ports/store.hpp"
#include "services/config.hpp"

namespace concertd {

struct QueueTicket {
  TokenView token;
  bool created = false;
  std::optional<WaitEstimate> wait;  // while waiting
};

/// What an endpoint needs of the token presented to it.
enum class TokenUse {
  Status,  // waiting or active
  Hold,    // active only
  Grace,   // active, or spent within hold-ttl (reading, cancelling, charging, paying)
};

class QueueService {
 public:
  QueueService(Store& store, Coordinator& coordinator, const Clock& clock, const ServiceConfig& config);

  /// The user's live token, or a new one placed at the back; a new one is stored before return.
  Task<QueueTicket> issue(const std::string& user_id);
  /// Counts as a poll. Unknown, dropped or spent: 401 INVALID_TOKEN.
  Task<QueueTicket> status(const std::string& token);
  /// Checks in the contract's order: 401, then 403 FORBIDDEN when `acting_user` differs.
  Task<TokenView> authenticate(const std::string& token, TokenUse use, const std::string* acting_user = nullptr);
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
  Store& _store;
  Coordinator& _coordinator;
  const Clock& _clock;
  ServiceConfig _config;
  std::vector<TokenChange> _unsaved;  // changes a failed store write must not lose
};

}  // namespace concertd
