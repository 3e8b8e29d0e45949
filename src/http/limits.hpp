#pragma once
// What the edge enforces before any service runs: who the client is (behind trusted proxies),
// how often it may take tokens, and who the user is when the operator signs identities.
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "domain/time.hpp"
#include "http/types.hpp"

namespace concertd::http {

struct EdgeConfig {
  std::optional<std::string> user_auth_secret;  // --user-auth-secret
  std::int64_t token_issues_per_second = 0;     // --rate-limit, 0: off
  std::vector<std::string> trusted_proxies;     // --trusted-proxies
};

/// A token bucket per client address: `rate` issues per second, bursts of up to `rate`.
/// Bounded: past kMaxClients addresses the idle ones are forgotten (a fresh bucket is full,
/// so forgetting only ever errs towards letting a client in).
class RateLimiter {
 public:
  static constexpr std::size_t kMaxClients = 100'000;

  explicit RateLimiter(std::int64_t rate) : _rate(rate) {}
  /// True when allowed; else `retry_after_seconds` says when the next token is due.
  bool allow(const std::string& client, Timestamp now, std::int64_t& retry_after_seconds);

 private:
  struct Bucket {
    double tokens = 0;
    Timestamp updated;
  };
  std::mutex _mutex;
  std::int64_t _rate;
  std::unordered_map<std::string, Bucket> _buckets;
};

class Edge {
 public:
  explicit Edge(EdgeConfig config);

  /// The client's address: the peer, or when the peer is a trusted proxy the right-most
  /// address of X-Forwarded-For that is not itself a trusted proxy.
  std::string client_address(const Request& request) const;
  /// 429 RATE_LIMITED (with Retry-After) when the client is over --rate-limit.
  void limit_token_issue(const Request& request, Timestamp now);
  /// With --user-auth-secret: the user X-User-Auth proves (401 USER_AUTH_REQUIRED when missing,
  /// malformed, wrongly signed or expired); without it, nullopt (a gateway did the check).
  std::optional<std::string> authenticated_user(const Request& request, Timestamp now) const;

 private:
  EdgeConfig _config;
  std::unordered_set<std::string> _trusted;
  std::optional<RateLimiter> _limiter;
};

/// "<userId>.<expiry>.<hex HMAC-SHA256(secret, "<userId>.<expiry>")>", as a login service signs it.
std::string sign_user_auth(const std::string& secret, const std::string& user_id, std::int64_t expiry_unix_seconds);

}  // namespace concertd::http
