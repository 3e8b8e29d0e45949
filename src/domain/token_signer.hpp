#pragma once
// Signed queue tokens: a token carries its own claims and an HMAC-SHA256 over them, so that any
// process holding the key can check one without asking the store.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "domain/time.hpp"

namespace concertd {

struct TokenKey {
  std::string id;      // 1 to 16 characters of [A-Za-z0-9_-]
  std::string secret;  // at least 16 bytes, any bytes except ',' (it came from a comma-separated list)
};

/// Parses the --token-keys value "id:secret,id2:secret2": the first key signs, every key verifies.
/// Returns the keys, or a one-line message saying what is wrong (empty list, an item without ':',
/// an id that is empty/too long/has other characters, a secret shorter than 16 bytes, the same id
/// twice, more than 16 keys). Surrounding blanks of an item are trimmed; empty items (",,") are an
/// error. A secret may hold ':' (the id ends at the first). Messages name items by position and
/// never quote a secret (they end up in logs).
std::variant<std::vector<TokenKey>, std::string> parse_token_keys(std::string_view text);
/// The inverse, for keeping generated keys in the store: "id:secret,..." (secrets must then be printable: see
/// make_token_key). Throws std::invalid_argument for a key that would not parse back the same: a bad id, a secret under
/// 16 bytes, with a ',' or a byte outside printable ASCII or a blank at its end, an empty list.
std::string format_token_keys(const std::vector<TokenKey>& keys);
/// A fresh key for a store that has none: id "k" + 8 random hex digits, secret 43 base64url chars of 32 CSPRNG bytes.
TokenKey make_token_key();

/// Equal sizes and bytes, in a time that depends only on the size: for comparing a secret, or
/// one client's bytes with another's.
bool constant_time_equal(std::string_view a, std::string_view b);

/// What a token says of itself once its signature verifies.
struct TokenClaims {
  std::string token_id;  // the id the line knows the token by (base64url/hex characters, 1..64 chars)
  std::string user_id;   // 1..64 chars of [A-Za-z0-9._@-]
  Timestamp issued_at;   // milliseconds, not negative
  std::string key_id;    // the key that signed it
};

/// The last token one connection presented that verified, and the id it carries. A fan polls
/// with the same bytes over one keep-alive connection, and the signer's keys are fixed for the
/// life of the process, so bytes that verified once verify again: one comparison replaces the
/// decode and the HMAC (5% of a status request's CPU, measured). The server keeps one per
/// connection; a proxy that pools connections just makes it miss more often.
struct VerifiedTokenMemo {
  std::string token;
  std::string token_id;
  std::string user_id;                // for the access log
  std::uint64_t keys_generation = 0;  // which key list verified it; a reload of the keys voids it
};

/// Immutable once built: copies share the precomputed key states, and every method is const, so
/// one signer may serve all threads.
class TokenSigner {
 public:
  /// Throws std::invalid_argument on an empty list, or on keys parse_token_keys would refuse (a bad
  /// id, a short secret, the same id twice). The first key signs; all verify.
  explicit TokenSigner(std::vector<TokenKey> keys);
  /// "<base64url(payload)>.<base64url(HMAC-SHA256(secret, base64url(payload)))>", no padding.
  /// claims.key_id is ignored: the signing key's id is used. Throws std::invalid_argument for
  /// claims that verify() would refuse (a field with other characters or out of its length, a
  /// negative time, a token over 256 characters).
  std::string sign(const TokenClaims& claims) const;
  /// The claims when `token` is well-formed, names a known key id and its signature verifies
  /// (compared with CRYPTO_memcmp, constant time); nullopt for anything else. Never throws on any
  /// input (it is called on attacker-controlled header bytes; inputs over 256 chars are nullopt at once).
  std::optional<TokenClaims> verify(std::string_view token) const;
  const std::string& signing_key_id() const;

 private:
  /// Defined in the .cpp so that OpenSSL's hash state types stay out of this header.
  struct KeyStates;
  std::shared_ptr<const KeyStates> _states;
};

}  // namespace concertd
