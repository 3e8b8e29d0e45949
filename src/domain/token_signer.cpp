#include "domain/token_signer.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "domain/assert.hpp"
#include "domain/random.hpp"
#include "domain/validation.hpp"

namespace concertd {
namespace {

constexpr std::size_t kMaxTokenLength = 256;
constexpr std::size_t kMaxKeyIdLength = 16;
constexpr std::size_t kMinSecretLength = 16;
constexpr std::size_t kMaxTokenIdLength = 64;
/// Rotation needs two or three; the bound keeps verify's scan of the list short.
constexpr std::size_t kMaxKeys = 16;
constexpr std::size_t kMacLength = SHA256_DIGEST_LENGTH;
constexpr std::size_t kSha256BlockLength = 64;
constexpr std::string_view kPayloadVersion = "t1";
constexpr char kFieldSeparator = '|';
constexpr std::size_t kPayloadFields = 5;
/// The longest decimal int64 (9223372036854775807).
constexpr std::size_t kMaxMillisDigits = 19;

constexpr std::size_t base64url_length(std::size_t bytes) { return (bytes * 4 + 2) / 3; }

constexpr std::size_t kSignatureTextLength = base64url_length(kMacLength);
/// The payload text is what a maximal token leaves beside the dot and the signature.
constexpr std::size_t kMaxPayloadTextLength = kMaxTokenLength - 1 - kSignatureTextLength;
constexpr std::size_t kMaxPayloadBytes = kMaxPayloadTextLength * 6 / 8;
constexpr std::size_t kLargestPayload =
    kPayloadVersion.size() + 1 + kMaxKeyIdLength + 1 + 44 + 1 + kMaxMillisDigits + 1 + 64;
static_assert(kSignatureTextLength == 43);
static_assert(kMaxPayloadBytes == 159);
// The promise of the format: a 16-character key id, a 44-character token id, any time and a
// 64-character user id fit in a token verify() accepts.
static_assert(base64url_length(kLargestPayload) + 1 + kSignatureTextLength <= kMaxTokenLength);

constexpr char kBase64urlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Each byte's 6-bit value, or kNotBase64url. The one bit no 6-bit value has lets a decoder OR a
/// whole run of values together and test once.
constexpr std::uint8_t kNotBase64url = 0x80;
constexpr std::array<std::uint8_t, 256> make_decode_table() {
  std::array<std::uint8_t, 256> table{};
  for (auto& value : table) {
    value = kNotBase64url;
  }
  for (std::size_t i = 0; i < 64; ++i) {
    table[static_cast<unsigned char>(kBase64urlAlphabet[i])] = static_cast<std::uint8_t>(i);
  }
  return table;
}
constexpr std::array<std::uint8_t, 256> kBase64urlDecode = make_decode_table();

std::uint32_t sextet(char c) { return kBase64urlDecode[static_cast<unsigned char>(c)]; }

/// Writes base64url of `n` bytes, unpadded, at `out` (base64url_length(n) characters); returns the end.
char* encode_base64url(const unsigned char* in, std::size_t n, char* out) {
  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v = (std::uint32_t{in[i]} << 16) | (std::uint32_t{in[i + 1]} << 8) | in[i + 2];
    *out++ = kBase64urlAlphabet[v >> 18];
    *out++ = kBase64urlAlphabet[(v >> 12) & 0x3F];
    *out++ = kBase64urlAlphabet[(v >> 6) & 0x3F];
    *out++ = kBase64urlAlphabet[v & 0x3F];
  }
  const std::size_t rest = n - i;
  if (rest > 0) {
    const std::uint32_t v = (std::uint32_t{in[i]} << 16) | (rest == 2 ? std::uint32_t{in[i + 1]} << 8 : 0);
    *out++ = kBase64urlAlphabet[v >> 18];
    *out++ = kBase64urlAlphabet[(v >> 12) & 0x3F];
    if (rest == 2) {
      *out++ = kBase64urlAlphabet[(v >> 6) & 0x3F];
    }
  }
  return out;
}

/// Decodes unpadded base64url into `out`; the byte count, or nullopt for a character outside the
/// alphabet, more than `capacity` bytes, or a non-canonical text. Canonical means no dangling
/// character and zero bits past the last byte: otherwise four spellings of one signature would all
/// verify, and a changed last character could go unnoticed. Four characters at a time, with one
/// validity test at the end: a character at a time was a third of verify's cost.
std::optional<std::size_t> decode_base64url(std::string_view text, unsigned char* out, std::size_t capacity) {
  const std::size_t quads = text.size() / 4;
  const std::size_t rest = text.size() % 4;
  const std::size_t length = quads * 3 + (rest == 0 ? 0 : rest - 1);
  if (rest == 1 || length > capacity) {
    return std::nullopt;
  }
  std::uint32_t seen = 0;
  const char* in = text.data();
  for (std::size_t q = 0; q < quads; ++q, in += 4, out += 3) {
    const std::uint32_t a = sextet(in[0]);
    const std::uint32_t b = sextet(in[1]);
    const std::uint32_t c = sextet(in[2]);
    const std::uint32_t d = sextet(in[3]);
    seen |= a | b | c | d;
    const std::uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
    out[0] = static_cast<unsigned char>(v >> 16);
    out[1] = static_cast<unsigned char>(v >> 8);
    out[2] = static_cast<unsigned char>(v);
  }
  if (rest >= 2) {
    const std::uint32_t a = sextet(in[0]);
    const std::uint32_t b = sextet(in[1]);
    const std::uint32_t c = rest == 3 ? sextet(in[2]) : 0;
    seen |= a | b | c;
    const std::uint32_t v = (a << 18) | (b << 12) | (c << 6);
    out[0] = static_cast<unsigned char>(v >> 16);
    if (rest == 3) {
      out[1] = static_cast<unsigned char>(v >> 8);
    }
    const std::uint32_t unused_bits = rest == 2 ? 0xFFFF : 0xFF;  // below the last byte written
    if ((v & unused_bits) != 0) {
      return std::nullopt;
    }
  }
  if ((seen & kNotBase64url) != 0) {
    return std::nullopt;
  }
  return length;
}

/// Key and token ids use the base64url alphabet: [A-Za-z0-9_-].
bool has_only_key_id_chars(std::string_view s) {
  std::uint32_t seen = 0;
  for (const char c : s) {
    seen |= sextet(c);
  }
  return (seen & kNotBase64url) == 0;
}

/// What is wrong with a key id, or nullptr.
const char* key_id_problem(std::string_view id) {
  if (id.empty()) {
    return "an empty id";
  }
  if (id.size() > kMaxKeyIdLength) {
    return "an id over 16 characters";
  }
  if (!has_only_key_id_chars(id)) {
    return "an id with characters other than A-Z a-z 0-9 _ -";
  }
  return nullptr;
}

/// Token ids are hex time digits followed by base64url: the key id alphabet, longer.
bool is_valid_token_id(std::string_view id) {
  return !id.empty() && id.size() <= kMaxTokenIdLength && has_only_key_id_chars(id);
}

/// Decimal digits without sign or leading zeros, within int64.
std::optional<std::int64_t> parse_millis(std::string_view text) {
  if (text.empty() || text.size() > kMaxMillisDigits || (text[0] == '0' && text.size() > 1)) {
    return std::nullopt;
  }
  for (const char c : text) {
    if (c < '0' || c > '9') {
      return std::nullopt;
    }
  }
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) {
    return std::nullopt;  // 19 digits past 2^63-1
  }
  return value;
}

struct PayloadFields {
  std::string_view key_id;
  std::string_view token_id;
  std::int64_t issued_at_ms = 0;
  std::string_view user_id;
};

/// "t1|<key id>|<token id>|<ms>|<user id>", every field checked; nullopt for anything else.
std::optional<PayloadFields> parse_payload(std::string_view payload) {
  std::array<std::string_view, kPayloadFields> fields;
  for (std::size_t i = 0; i + 1 < kPayloadFields; ++i) {
    const auto bar = payload.find(kFieldSeparator);
    if (bar == std::string_view::npos) {
      return std::nullopt;
    }
    fields[i] = payload.substr(0, bar);
    payload.remove_prefix(bar + 1);
  }
  fields[kPayloadFields - 1] = payload;  // a sixth field would leave a '|' here: the user id check refuses it
  const auto ms = parse_millis(fields[3]);
  if (fields[0] != kPayloadVersion || key_id_problem(fields[1]) != nullptr || !is_valid_token_id(fields[2]) || !ms ||
      !is_valid_user_id(fields[4])) {
    return std::nullopt;
  }
  return PayloadFields{fields[1], fields[2], *ms, fields[4]};
}

/// One key's HMAC-SHA256 midstates (RFC 2104): SHA-256 after absorbing the key block xor ipad,
/// and after the key block xor opad. Each MAC then finishes copies of them, which saves the two
/// block compressions and the context allocation that a one-shot HMAC() call pays every time.
struct HmacKey {
  std::string id;
  SHA256_CTX inner;
  SHA256_CTX outer;
};

// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP_MD_CTX. But EVP contexts
// are heap objects that verify() (const, shared by all threads) would need per thread, and finishing
// two copied states through EVP_MD_CTX_copy_ex took 233 ns against 160 ns here (OpenSSL 3.0, SHA-NI,
// a 112-byte text). SHA256_CTX is a plain struct that copies with `=` and still runs OpenSSL's
// assembly. Only these two functions use it, so only they silence the warning.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

HmacKey derive_hmac_key(const TokenKey& key) {
  std::array<unsigned char, kSha256BlockLength> block{};
  if (key.secret.size() > block.size()) {
    SHA256(reinterpret_cast<const unsigned char*>(key.secret.data()), key.secret.size(), block.data());
  } else {
    std::memcpy(block.data(), key.secret.data(), key.secret.size());
  }
  std::array<unsigned char, kSha256BlockLength> pad{};
  HmacKey out{key.id, {}, {}};
  bool ok = true;
  for (std::size_t i = 0; i < pad.size(); ++i) {
    pad[i] = block[i] ^ 0x36;
  }
  ok = ok && SHA256_Init(&out.inner) == 1 && SHA256_Update(&out.inner, pad.data(), pad.size()) == 1;
  for (std::size_t i = 0; i < pad.size(); ++i) {
    pad[i] = block[i] ^ 0x5c;
  }
  ok = ok && SHA256_Init(&out.outer) == 1 && SHA256_Update(&out.outer, pad.data(), pad.size()) == 1;
  OPENSSL_cleanse(block.data(), block.size());
  OPENSSL_cleanse(pad.data(), pad.size());
  if (!ok) {
    throw std::runtime_error("SHA-256 failed while preparing a token key");
  }
  return out;
}

/// HMAC-SHA256(key, text) into `mac`; false only if OpenSSL reports a failure.
bool compute_mac(const HmacKey& key, std::string_view text, std::array<unsigned char, kMacLength>& mac) {
  SHA256_CTX ctx = key.inner;
  bool ok = SHA256_Update(&ctx, text.data(), text.size()) == 1 && SHA256_Final(mac.data(), &ctx) == 1;
  ctx = key.outer;
  ok = ok && SHA256_Update(&ctx, mac.data(), mac.size()) == 1 && SHA256_Final(mac.data(), &ctx) == 1;
  OPENSSL_cleanse(&ctx, sizeof ctx);
  return ok;
}

#pragma GCC diagnostic pop

std::string item_message(std::size_t number, std::string_view what) {
  return "token keys: item " + std::to_string(number) + " has " + std::string(what);
}

/// What keeps `keys` from being a usable list, or an empty string. Shared by parse_token_keys
/// (after it has split the items) and the TokenSigner constructor, so both refuse the same keys.
std::string key_list_problem(const std::vector<TokenKey>& keys) {
  if (keys.empty()) {
    return "token keys: the list is empty";
  }
  if (keys.size() > kMaxKeys) {
    return "token keys: more than 16 keys";
  }
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (const char* problem = key_id_problem(keys[i].id)) {
      return item_message(i + 1, problem);
    }
    if (keys[i].secret.size() < kMinSecretLength) {
      return item_message(i + 1,
                          "a secret of " + std::to_string(keys[i].secret.size()) + " bytes; at least 16 are needed");
    }
    if (keys[i].secret.find(',') != std::string::npos) {
      return item_message(i + 1, "a ',' in its secret");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (keys[j].id == keys[i].id) {
        return "token keys: items " + std::to_string(j + 1) + " and " + std::to_string(i + 1) + " have the same id \"" +
               keys[i].id + "\"";
      }
    }
  }
  return {};
}

}  // namespace

std::variant<std::vector<TokenKey>, std::string> parse_token_keys(std::string_view text) {
  if (trim_blanks(text).empty()) {
    return std::string("token keys: the list is empty");
  }
  std::vector<TokenKey> keys;
  // One key per pass; a list longer than kMaxKeys stops at the pass after the last allowed one.
  for (std::size_t number = 1; number <= kMaxKeys + 1; ++number) {
    const auto comma = text.find(',');
    const std::string_view item = trim_blanks(text.substr(0, comma));
    if (number > kMaxKeys) {
      return std::string("token keys: more than 16 keys");
    }
    if (item.empty()) {
      return item_message(number, "nothing in it (two commas in a row, or one at an end)");
    }
    const auto colon = item.find(':');
    if (colon == std::string_view::npos) {
      return item_message(number, "no ':' between id and secret");
    }
    keys.push_back(TokenKey{std::string(item.substr(0, colon)), std::string(item.substr(colon + 1))});
    if (comma == std::string_view::npos) {
      break;
    }
    text.remove_prefix(comma + 1);
  }
  std::string problem = key_list_problem(keys);
  if (!problem.empty()) {
    return problem;
  }
  return keys;
}

std::string format_token_keys(const std::vector<TokenKey>& keys) {
  std::string out;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    for (const char c : keys[i].secret) {
      if (c < 0x20 || c > 0x7e) {
        throw std::invalid_argument("format_token_keys: the secret of key " + std::to_string(i + 1) +
                                    " is not printable ASCII");
      }
    }
    if (i > 0) {
      out += ',';
    }
    out += keys[i].id;
    out += ':';
    out += keys[i].secret;
  }
  // The store keeps this text and the next start parses it: a key that would come back different
  // (a ',' in a secret, a blank at its end, a bad id) must fail here, not then.
  const auto parsed = parse_token_keys(out);
  if (const auto* problem = std::get_if<std::string>(&parsed)) {
    throw std::invalid_argument("format_token_keys: " + *problem);
  }
  const auto& back = std::get<std::vector<TokenKey>>(parsed);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (back.size() != keys.size() || back[i].id != keys[i].id || back[i].secret != keys[i].secret) {
      throw std::invalid_argument("format_token_keys: key " + std::to_string(i + 1) + " would not parse back the same");
    }
  }
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  // Eight bytes per step, differences ORed together and tested once: no branch on the bytes.
  // CRYPTO_memcmp goes a byte at a time, and a status poll compares a whole token (1.7% of its CPU).
  std::uint64_t diff = 0;
  std::size_t i = 0;
  for (; i + 8 <= a.size(); i += 8) {
    std::uint64_t x = 0;
    std::uint64_t y = 0;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    diff |= x ^ y;
  }
  for (; i < a.size(); ++i) {
    diff |= static_cast<std::uint64_t>(static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]));
  }
  return diff == 0;
}

TokenKey make_token_key() {
  std::array<unsigned char, 4> id_bytes{};
  if (RAND_bytes(id_bytes.data(), static_cast<int>(id_bytes.size())) != 1) {
    throw std::runtime_error("CSPRNG failure");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  TokenKey key;
  key.id = "k";
  for (const unsigned char b : id_bytes) {
    key.id += kHex[b >> 4];
    key.id += kHex[b & 0xF];
  }
  key.secret = random_base64url(32);
  return key;
}

struct TokenSigner::KeyStates {
  std::vector<HmacKey> keys;

  KeyStates() = default;
  KeyStates(const KeyStates&) = delete;
  KeyStates& operator=(const KeyStates&) = delete;
  /// The midstates are as good as the secrets for forging tokens.
  ~KeyStates() {
    for (auto& key : keys) {
      OPENSSL_cleanse(&key.inner, sizeof key.inner);
      OPENSSL_cleanse(&key.outer, sizeof key.outer);
    }
  }

  const HmacKey* find(std::string_view id) const {
    for (const auto& key : keys) {
      if (key.id == id) {
        return &key;
      }
    }
    return nullptr;
  }
};

TokenSigner::TokenSigner(std::vector<TokenKey> keys) {
  const std::string problem = key_list_problem(keys);
  if (!problem.empty()) {
    throw std::invalid_argument(problem);
  }
  auto states = std::make_shared<KeyStates>();
  states->keys.reserve(keys.size());
  for (auto& key : keys) {
    states->keys.push_back(derive_hmac_key(key));
    OPENSSL_cleanse(key.secret.data(), key.secret.size());  // our copy; the caller's is theirs
  }
  _states = std::move(states);
}

std::string TokenSigner::sign(const TokenClaims& claims) const {
  const HmacKey& key = _states->keys.front();
  const std::int64_t ms = to_millis(claims.issued_at);
  if (!is_valid_token_id(claims.token_id) || !is_valid_user_id(claims.user_id) || ms < 0) {
    throw std::invalid_argument("TokenSigner::sign: a claim breaks its field rules");
  }
  std::array<char, kMaxMillisDigits> digits{};
  const auto millis_end = std::to_chars(digits.data(), digits.data() + digits.size(), ms).ptr;
  const std::string_view millis(digits.data(), static_cast<std::size_t>(millis_end - digits.data()));
  const std::array<std::string_view, kPayloadFields> fields{kPayloadVersion, key.id, claims.token_id, millis,
                                                            claims.user_id};
  std::size_t payload_length = kPayloadFields - 1;
  for (const auto field : fields) {
    payload_length += field.size();
  }
  const std::size_t token_length = base64url_length(payload_length) + 1 + kSignatureTextLength;
  if (token_length > kMaxTokenLength) {
    throw std::invalid_argument("TokenSigner::sign: the token would be over 256 characters");
  }
  // A token within the limit has a payload within kMaxPayloadBytes: the limit was derived that way.
  CONCERTD_ASSERT(payload_length <= kMaxPayloadBytes,
                  "a token within the length limit has a payload within the buffer");

  std::array<unsigned char, kMaxPayloadBytes> payload{};
  std::size_t n = 0;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) {
      payload[n++] = static_cast<unsigned char>(kFieldSeparator);
    }
    std::memcpy(payload.data() + n, fields[i].data(), fields[i].size());
    n += fields[i].size();
  }
  std::string token(token_length, '\0');
  char* const payload_end = encode_base64url(payload.data(), n, token.data());
  std::array<unsigned char, kMacLength> mac{};
  if (!compute_mac(key, std::string_view(token.data(), static_cast<std::size_t>(payload_end - token.data())), mac)) {
    throw std::runtime_error("SHA-256 failed while signing a token");
  }
  *payload_end = '.';
  [[maybe_unused]] const char* const end = encode_base64url(mac.data(), mac.size(), payload_end + 1);
  CONCERTD_ASSERT(end == token.data() + token.size(), "the token fills exactly the length computed for it");
  return token;
}

std::optional<TokenClaims> TokenSigner::verify(std::string_view token) const {
  if (token.size() > kMaxTokenLength) {
    return std::nullopt;
  }
  const auto dot = token.find('.');
  if (dot == std::string_view::npos || token.size() - dot - 1 != kSignatureTextLength) {
    return std::nullopt;
  }
  const std::string_view payload_text = token.substr(0, dot);
  // Not zeroed (verify runs on every protected request): each decode writes every byte it
  // reports, and only those are read.
  std::array<unsigned char, kMacLength> signature;
  if (decode_base64url(token.substr(dot + 1), signature.data(), signature.size()) != kMacLength) {
    return std::nullopt;  // a second '.' lands here: it is no base64url character
  }
  std::array<unsigned char, kMaxPayloadBytes> payload;  // written by the decode before it is read
  const auto payload_length = decode_base64url(payload_text, payload.data(), payload.size());
  if (!payload_length) {
    return std::nullopt;
  }
  const auto fields = parse_payload(std::string_view(reinterpret_cast<const char*>(payload.data()), *payload_length));
  if (!fields) {
    return std::nullopt;
  }
  const HmacKey* key = _states->find(fields->key_id);
  if (key == nullptr) {
    return std::nullopt;
  }
  std::array<unsigned char, kMacLength> mac{};
  if (!compute_mac(*key, payload_text, mac) || CRYPTO_memcmp(mac.data(), signature.data(), mac.size()) != 0) {
    return std::nullopt;
  }
  return TokenClaims{std::string(fields->token_id), std::string(fields->user_id), from_millis(fields->issued_at_ms),
                     key->id};
}

const std::string& TokenSigner::signing_key_id() const { return _states->keys.front().id; }

}  // namespace concertd
