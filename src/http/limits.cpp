#include "http/limits.hpp"

#include <algorithm>
#include <cmath>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "domain/errors.hpp"
#include "domain/token_signer.hpp"
#include "domain/validation.hpp"
#include "http/auth.hpp"
#include "http/codec.hpp"

namespace concertd::http {
namespace {

std::string hex_hmac_sha256(const std::string& key, const std::string& message) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), digest, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 0xF];
  }
  return out;
}

}  // namespace

bool RateLimiter::allow(const std::string& client, Timestamp now, std::int64_t& retry_after_seconds) {
  std::lock_guard lock(_mutex);
  if (_buckets.size() >= kMaxClients && !_buckets.contains(client)) {
    // Forget every bucket that has refilled completely: they are indistinguishable from new.
    std::erase_if(_buckets, [&](const auto& kv) {
      return std::chrono::duration<double>(now - kv.second.updated).count() * static_cast<double>(_rate) >=
             static_cast<double>(_rate);
    });
    if (_buckets.size() >= kMaxClients) {
      _buckets.clear();
    }
  }
  auto [it, fresh] = _buckets.try_emplace(client, Bucket{static_cast<double>(_rate), now});
  Bucket& b = it->second;
  if (!fresh) {
    const double elapsed = std::max(0.0, std::chrono::duration<double>(now - b.updated).count());
    b.tokens = std::min(static_cast<double>(_rate), b.tokens + elapsed * static_cast<double>(_rate));
    b.updated = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return true;
  }
  retry_after_seconds =
      std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil((1.0 - b.tokens) / static_cast<double>(_rate))));
  return false;
}

Edge::Edge(EdgeConfig config) : _config(std::move(config)) {
  _trusted.insert(_config.trusted_proxies.begin(), _config.trusted_proxies.end());
  if (_config.token_issues_per_second > 0) {
    _limiter.emplace(_config.token_issues_per_second);
  }
}

std::string Edge::client_address(const Request& request) const {
  if (!request.forwarded_for || !_trusted.contains(request.peer_address)) {
    return request.peer_address;
  }
  // X-Forwarded-For: client, proxy1, proxy2. Walk from the right: the first address that is
  // not one of ours is the client as our own proxies saw it; anything left of it is hearsay.
  std::vector<std::string> hops;
  std::string_view list = *request.forwarded_for;
  for (std::size_t start = 0; start <= list.size();) {
    const std::size_t comma = list.find(',', start);
    const std::size_t end = comma == std::string_view::npos ? list.size() : comma;
    hops.emplace_back(trim_blanks(list.substr(start, end - start)));
    if (comma == std::string_view::npos) {
      break;
    }
    start = comma + 1;
  }
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    if (!it->empty() && !_trusted.contains(*it)) {
      return *it;
    }
  }
  return request.peer_address;
}

void Edge::limit_token_issue(const Request& request, Timestamp now) {
  if (!_limiter) {
    return;
  }
  std::int64_t retry_after = 1;
  if (!_limiter->allow(client_address(request), now, retry_after)) {
    throw ClientError(Refusal::RateLimited, {{"retryAfterSeconds", retry_after}});
  }
}

std::optional<std::string> Edge::authenticated_user(const Request& request, Timestamp now) const {
  if (!_config.user_auth_secret) {
    return std::nullopt;
  }
  if (!request.user_auth) {
    throw ClientError(Refusal::UserAuthRequired);
  }
  const std::string& value = *request.user_auth;
  // The user id has no dots of its own? It may ("a.b"): the signature and expiry are the last
  // two fields, the user id is everything before them.
  const std::size_t sig_dot = value.rfind('.');
  if (sig_dot == std::string::npos || sig_dot == 0) {
    throw ClientError(Refusal::UserAuthRequired);
  }
  const std::size_t exp_dot = value.rfind('.', sig_dot - 1);
  if (exp_dot == std::string::npos || exp_dot == 0) {
    throw ClientError(Refusal::UserAuthRequired);
  }
  const std::string user = value.substr(0, exp_dot);
  const std::string expiry_text = value.substr(exp_dot + 1, sig_dot - exp_dot - 1);
  const std::string signature = value.substr(sig_dot + 1);
  if (!is_valid_user_id(user) || expiry_text.empty() || expiry_text.size() > 18 ||
      expiry_text.find_first_not_of("0123456789") != std::string::npos) {
    throw ClientError(Refusal::UserAuthRequired);
  }
  const std::string expected = hex_hmac_sha256(*_config.user_auth_secret, value.substr(0, sig_dot));
  std::string lowered = signature;
  std::transform(lowered.begin(), lowered.end(), lowered.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!constant_time_equal(lowered, expected)) {
    throw ClientError(Refusal::UserAuthRequired);
  }
  const std::int64_t expiry = std::stoll(expiry_text);
  if (expiry * 1000 <= to_millis(now)) {
    throw ClientError(Refusal::UserAuthRequired);
  }
  return user;
}

std::string sign_user_auth(const std::string& secret, const std::string& user_id, std::int64_t expiry_unix_seconds) {
  const std::string message = user_id + '.' + std::to_string(expiry_unix_seconds);
  return message + '.' + hex_hmac_sha256(secret, message);
}

}  // namespace concertd::http
