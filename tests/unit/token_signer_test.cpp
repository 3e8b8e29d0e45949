#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "domain/token_signer.hpp"

namespace concertd {
namespace {

const TokenKey kKeyA{"a", "0123456789abcdef"};
const TokenKey kKeyB{"b", "fedcba9876543210-second-key"};
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// An encoder of the test's own, so that a bug shared with the signer's cannot hide.
std::string b64url(std::string_view bytes) {
  std::string out;
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const auto v = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                   (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                   static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const auto v = std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
  } else if (rest == 2) {
    const auto v = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                   (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

/// OpenSSL's one-shot HMAC-SHA256, base64url: the reference the signer's precomputed states must match.
std::string reference_mac(std::string_view secret, std::string_view text) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const unsigned char* done = HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
                                   reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac, &length);
  EXPECT_NE(done, nullptr);
  EXPECT_EQ(length, 32u);
  return b64url(std::string_view(reinterpret_cast<const char*>(mac), length));
}

/// A token for any payload, correctly signed with `secret`: shows the parser, not the MAC, refuses.
std::string craft(std::string_view secret, std::string_view payload) {
  const std::string text = b64url(payload);
  return text + "." + reference_mac(secret, text);
}

TokenClaims claims(std::string token_id = "019abc0123ffAbCdEfGhIjKlMnOpQrStUvWxYz-_0123",
                   std::string user_id = "user-1@x.io", std::int64_t ms = 1'748'532'900'123) {
  return TokenClaims{std::move(token_id), std::move(user_id), from_millis(ms), "ignored"};
}

TEST(TokenSigner, SignThenVerifyRoundTripsTheClaims) {
  const TokenSigner signer({kKeyA});
  const auto c = claims();
  const std::string token = signer.sign(c);
  const auto back = signer.verify(token);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->token_id, c.token_id);
  EXPECT_EQ(back->user_id, c.user_id);
  EXPECT_EQ(back->issued_at, c.issued_at);
  EXPECT_EQ(back->key_id, "a");  // claims.key_id ("ignored") is not what was signed
  EXPECT_EQ(signer.signing_key_id(), "a");

  const auto zero = signer.verify(signer.sign(claims("x", "u", 0)));
  ASSERT_TRUE(zero.has_value());
  EXPECT_EQ(to_millis(zero->issued_at), 0);
}

TEST(TokenSigner, TheTokenIsBase64urlPayloadDotHmacSha256OfThatText) {
  const std::string long_secret(100, 'L');  // over a SHA-256 block: HMAC hashes it first
  const std::string block_secret(64, 'B');  // exactly one block: used as it is
  static constexpr char kBinary[] = "\x00\x01\xff\xfe:secret\x7f\x80 with a NUL";
  const std::string binary_secret(kBinary, sizeof kBinary - 1);
  for (const auto& secret : {kKeyA.secret, kKeyB.secret, long_secret, block_secret, binary_secret}) {
    const TokenSigner signer({TokenKey{"kid", secret}});
    const std::string token = signer.sign(claims("tok-1", "alice", 1'700'000'000'000));
    const auto dot = token.find('.');
    ASSERT_NE(dot, std::string::npos);
    const std::string text = token.substr(0, dot);
    EXPECT_EQ(text, b64url("t1|kid|tok-1|1700000000000|alice"));
    EXPECT_EQ(token.substr(dot + 1), reference_mac(secret, text)) << secret.size() << "-byte secret";
    EXPECT_TRUE(signer.verify(craft(secret, "t1|kid|tok-1|1700000000000|alice")).has_value());
  }
}

TEST(TokenSigner, RotationNewKeyFirstOldKeysStillVerify) {
  const std::string old_token = TokenSigner({kKeyB}).sign(claims());
  const TokenSigner rotated({kKeyA, kKeyB});
  const auto back = rotated.verify(old_token);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->key_id, "b");
  EXPECT_EQ(rotated.signing_key_id(), "a");
  EXPECT_EQ(rotated.verify(rotated.sign(claims()))->key_id, "a");

  const TokenSigner retired({kKeyA});
  EXPECT_FALSE(retired.verify(old_token).has_value());
}

TEST(TokenSigner, AnyChangedCharacterFails) {
  const TokenSigner signer({kKeyA, kKeyB});
  const std::string token = signer.sign(claims());
  ASSERT_TRUE(signer.verify(token).has_value());
  // Every position, every other base64url character: the last one of each part included, whose
  // low bits fall past the data (a lenient decoder would accept some of these).
  for (std::size_t i = 0; i < token.size(); ++i) {
    for (std::size_t k = 0; k < 64; ++k) {
      if (kAlphabet[k] == token[i]) {
        continue;
      }
      std::string changed = token;
      changed[i] = kAlphabet[k];
      ASSERT_FALSE(signer.verify(changed).has_value()) << "position " << i << ": " << changed;
    }
  }
}

TEST(TokenSigner, SameKeyIdAnotherSecretIsAForgery) {
  const TokenSigner real({kKeyA});
  const TokenSigner forger({TokenKey{"a", "not-the-real-secret"}});
  const std::string forged = forger.sign(claims());
  EXPECT_TRUE(forger.verify(forged).has_value());
  EXPECT_FALSE(real.verify(forged).has_value());
  EXPECT_FALSE(real.verify(craft("0123456789abcdeF", "t1|a|tok|1|mallory")).has_value());
}

TEST(TokenSigner, MalformedTokensAreRefused) {
  const TokenSigner signer({kKeyA});
  const std::string token = signer.sign(claims());
  const auto dot = token.find('.');
  for (std::size_t n = 0; n < token.size(); ++n) {
    EXPECT_FALSE(signer.verify(token.substr(0, n)).has_value()) << "truncated to " << n;
  }
  EXPECT_FALSE(signer.verify(token.substr(1)).has_value());
  EXPECT_FALSE(signer.verify(token.substr(dot)).has_value());                             // no payload
  EXPECT_FALSE(signer.verify(token.substr(0, dot + 1)).has_value());                      // no signature
  EXPECT_FALSE(signer.verify(token.substr(0, dot) + token.substr(dot + 1)).has_value());  // no dot
  EXPECT_FALSE(signer.verify(token + ".").has_value());
  EXPECT_FALSE(signer.verify(token + "." + token.substr(dot + 1)).has_value());  // two dots
  EXPECT_FALSE(signer.verify(token.substr(0, dot) + ".." + token.substr(dot + 1)).has_value());
  EXPECT_FALSE(signer.verify(token + "=").has_value());  // padding
  EXPECT_FALSE(signer.verify(" " + token).has_value());
  EXPECT_FALSE(signer.verify(token + "\n").has_value());
  for (const char bad : {'+', '/', '=', ' ', '\0', '\xff', '|', '.'}) {
    for (const std::size_t at : {std::size_t{0}, dot - 1, dot + 1, token.size() - 1}) {
      std::string changed = token;
      changed[at] = bad;
      EXPECT_FALSE(signer.verify(changed).has_value()) << "byte " << int(bad) << " at " << at;
    }
  }
  EXPECT_FALSE(signer.verify("").has_value());
  EXPECT_FALSE(signer.verify(".").has_value());
  EXPECT_FALSE(signer.verify(std::string(10'000, 'A')).has_value());
  EXPECT_FALSE(signer.verify(std::string(257, '.')).has_value());
}

TEST(TokenSigner, OnlyKnownKeysVerify) {
  const TokenSigner signer({kKeyA});
  // Correctly signed with A's secret but naming a key id the signer does not hold.
  EXPECT_FALSE(signer.verify(craft(kKeyA.secret, "t1|z|tok|1|user")).has_value());
  EXPECT_FALSE(signer.verify(craft(kKeyA.secret, "t1|A|tok|1|user")).has_value());
  EXPECT_TRUE(signer.verify(craft(kKeyA.secret, "t1|a|tok|1|user")).has_value());
}

TEST(TokenSigner, SignedPayloadsWithBadFieldsAreRefused) {
  const TokenSigner signer({kKeyA});
  ASSERT_TRUE(signer.verify(craft(kKeyA.secret, "t1|a|tok_-9Z|1700000000000|u.s_e@r-1")).has_value());
  const std::string long_tok(65, 't');
  const std::string long_user(65, 'u');
  const std::vector<std::string> bad_payloads{"",
                                              "t1",
                                              "t1|a|tok|1",
                                              "t1|a|tok|1|user|extra",
                                              "t1|a|tok|1|user|",
                                              "t2|a|tok|1|user",
                                              "T1|a|tok|1|user",
                                              "|t1|a|tok|1|user",
                                              "t1||tok|1|user",
                                              "t1|a||1|user",
                                              "t1|a|tok||user",
                                              "t1|a|tok|1|",
                                              "t1|a|tok|-5|user",
                                              "t1|a|tok|+5|user",
                                              "t1|a|tok|05|user",
                                              "t1|a|tok|1.5|user",
                                              "t1|a|tok|1e3|user",
                                              "t1|a|tok| 1|user",
                                              "t1|a|tok|9223372036854775808|user",
                                              "t1|a|tok|99999999999999999999|user",
                                              "t1|a|to.k|1|user",
                                              "t1|a|to=k|1|user",
                                              "t1|a|tok|1|us er",
                                              "t1|a|tok|1|us/er",
                                              "t1|a|tok|1|user\n",
                                              "t1 |a|tok|1|user",
                                              "t1|a |tok|1|user",
                                              "t1|a|tok|1|" + long_user,
                                              "t1|a|" + long_tok + "|1|user",
                                              std::string("t1|a|tok|1|u\0", 13),
                                              std::string("t1|a|tok|1|\xc3\xa9", 13)};
  for (const auto& payload : bad_payloads) {
    EXPECT_FALSE(signer.verify(craft(kKeyA.secret, payload)).has_value()) << payload;
  }
  // The edges that are allowed.
  EXPECT_TRUE(
      signer.verify(craft(kKeyA.secret, "t1|a|" + std::string(64, 't') + "|9223372036854775807|u")).has_value());
  EXPECT_TRUE(signer.verify(craft(kKeyA.secret, "t1|a|t|0|" + std::string(64, 'u'))).has_value());
}

TEST(TokenSigner, LargestClaimsFitIn256Characters) {
  // Payload "t1|" + 16 + "|" + 44 + "|" + 19 digits + "|" + 64 = 149 bytes -> 199 base64url
  // characters; a dot and 43 for the 32-byte MAC make 243.
  const TokenSigner signer({TokenKey{std::string(16, 'K'), kKeyA.secret}});
  const auto c = claims(std::string(44, 'T'), std::string(64, 'U'), std::numeric_limits<std::int64_t>::max());
  const std::string token = signer.sign(c);
  EXPECT_EQ(3 + 16 + 1 + 44 + 1 + 19 + 1 + 64, 149);
  EXPECT_EQ((149 * 4 + 2) / 3, 199);
  EXPECT_EQ(token.size(), 199u + 1 + 43);
  EXPECT_LE(token.size(), 256u);
  const auto back = signer.verify(token);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->user_id, c.user_id);
  EXPECT_EQ(back->issued_at, c.issued_at);

  // A 64-character token id with everything else at its largest does not fit: sign refuses it
  // rather than hand out a token verify would refuse, and verify refuses one made by hand.
  const auto too_long = claims(std::string(64, 'T'), std::string(64, 'U'), 1'748'532'900'123);
  EXPECT_THROW((void)signer.sign(too_long), std::invalid_argument);
  const std::string crafted = craft(kKeyA.secret, "t1|" + std::string(16, 'K') + "|" + std::string(64, 'T') +
                                                      "|1748532900123|" + std::string(64, 'U'));
  EXPECT_GT(crafted.size(), 256u);
  EXPECT_FALSE(signer.verify(crafted).has_value());
}

TEST(TokenSigner, SignRefusesClaimsVerifyWouldRefuse) {
  const TokenSigner signer({kKeyA});
  EXPECT_THROW((void)signer.sign(claims("")), std::invalid_argument);
  EXPECT_THROW((void)signer.sign(claims("to|k")), std::invalid_argument);
  EXPECT_THROW((void)signer.sign(claims(std::string(65, 't'))), std::invalid_argument);
  EXPECT_THROW((void)signer.sign(claims("tok", "")), std::invalid_argument);
  EXPECT_THROW((void)signer.sign(claims("tok", "user|1")), std::invalid_argument);
  EXPECT_THROW((void)signer.sign(claims("tok", "user", -1)), std::invalid_argument);
}

TEST(TokenSigner, ConstructorRefusesUnusableKeyLists) {
  EXPECT_THROW(TokenSigner({}), std::invalid_argument);
  EXPECT_THROW(TokenSigner({kKeyA, TokenKey{"a", kKeyB.secret}}), std::invalid_argument);
  EXPECT_THROW(TokenSigner({TokenKey{"a|b", kKeyA.secret}}), std::invalid_argument);
  EXPECT_THROW(TokenSigner({TokenKey{"a", "short"}}), std::invalid_argument);
}

TEST(TokenSigner, CopiesShareTheKeys) {
  const TokenSigner signer({kKeyA});
  const TokenSigner copy = signer;  // NOLINT(performance-unnecessary-copy-initialization): the copy is the test
  EXPECT_TRUE(copy.verify(signer.sign(claims())).has_value());
}

std::vector<TokenKey> parsed_ok(std::string_view text) {
  auto result = parse_token_keys(text);
  if (const auto* message = std::get_if<std::string>(&result)) {
    ADD_FAILURE() << text << ": " << *message;
    return {};
  }
  return std::get<std::vector<TokenKey>>(std::move(result));
}

TEST(TokenKeys, ParsesIdSecretPairsInOrder) {
  const auto keys = parsed_ok("a:0123456789abcdef,b:fedcba9876543210");
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].id, "a");
  EXPECT_EQ(keys[0].secret, "0123456789abcdef");
  EXPECT_EQ(keys[1].id, "b");
  EXPECT_EQ(keys[1].secret, "fedcba9876543210");

  const auto trimmed = parsed_ok(" \tk_1-X:0123456789abcdef  ,  ABCDEFGHIJKLMNOP:with:colons and spaces\t");
  ASSERT_EQ(trimmed.size(), 2u);
  EXPECT_EQ(trimmed[0].id, "k_1-X");
  EXPECT_EQ(trimmed[0].secret, "0123456789abcdef");
  EXPECT_EQ(trimmed[1].id, "ABCDEFGHIJKLMNOP");
  EXPECT_EQ(trimmed[1].secret, "with:colons and spaces");
}

TEST(TokenKeys, RefusesMalformedListsWithAMessage) {
  const std::string secret = "0123456789abcdef";
  std::string seventeen;
  for (int i = 0; i < 17; ++i) {
    seventeen += (i > 0 ? "," : "") + std::string("k") + std::to_string(i) + ":" + secret;
  }
  for (const std::string& text :
       {std::string(""), std::string("  \t"), std::string(","), "a:" + secret + ",", ",a:" + secret,
        "a:" + secret + ",,b:" + secret, "a:" + secret + ", ,b:" + secret, "a" + secret, ":" + secret,
        "abcdefghijklmnopq:" + secret, "a b:" + secret, "a.b:" + secret, "a|b:" + secret, "a :" + secret,
        std::string("a:0123456789abcde"), std::string("a:"), "a:" + secret + ",a:fedcba9876543210", seventeen}) {
    const auto result = parse_token_keys(text);
    const auto* message = std::get_if<std::string>(&result);
    ASSERT_NE(message, nullptr) << "accepted: " << text;
    EXPECT_FALSE(message->empty()) << text;
    EXPECT_EQ(message->find('\n'), std::string::npos) << *message;
    EXPECT_EQ(message->find(secret), std::string::npos) << "a message quotes a secret: " << *message;
  }
  EXPECT_EQ(parsed_ok(seventeen.substr(seventeen.find(',') + 1)).size(), 16u);
}

TEST(TokenKeys, FormatParseRoundTrip) {
  const std::vector<TokenKey> keys{kKeyA, kKeyB, TokenKey{"c", "with:colon and space inside"}};
  const std::string text = format_token_keys(keys);
  EXPECT_EQ(text, "a:0123456789abcdef,b:fedcba9876543210-second-key,c:with:colon and space inside");
  const auto back = parsed_ok(text);
  ASSERT_EQ(back.size(), keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(back[i].id, keys[i].id);
    EXPECT_EQ(back[i].secret, keys[i].secret);
  }
}

TEST(TokenKeys, FormatRefusesKeysThatWouldNotComeBack) {
  EXPECT_THROW((void)format_token_keys({}), std::invalid_argument);
  EXPECT_THROW((void)format_token_keys({TokenKey{"a", "0123456789abcdef,"}}), std::invalid_argument);
  EXPECT_THROW((void)format_token_keys({TokenKey{"a", "0123456789abcdef "}}), std::invalid_argument);
  EXPECT_THROW((void)format_token_keys({TokenKey{"a", "0123456789abcdef\n"}}), std::invalid_argument);
  EXPECT_THROW((void)format_token_keys({TokenKey{"a", "short"}}), std::invalid_argument);
  EXPECT_THROW((void)format_token_keys({TokenKey{"a:b", "0123456789abcdef"}}), std::invalid_argument);
  EXPECT_THROW((void)format_token_keys({kKeyA, kKeyA}), std::invalid_argument);
}

TEST(TokenKeys, MadeKeysParseAndSign) {
  const TokenKey one = make_token_key();
  const TokenKey two = make_token_key();
  for (const auto& key : {one, two}) {
    ASSERT_EQ(key.id.size(), 9u);
    EXPECT_EQ(key.id[0], 'k');
    EXPECT_EQ(key.id.find_first_not_of("0123456789abcdef", 1), std::string::npos) << key.id;
    EXPECT_EQ(key.secret.size(), 43u);
    EXPECT_EQ(key.secret.find_first_not_of(kAlphabet), std::string::npos) << key.secret;
  }
  EXPECT_NE(one.id, two.id);  // 2^-32 to fail by chance
  EXPECT_NE(one.secret, two.secret);
  const auto back = parsed_ok(format_token_keys({one, two}));
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].secret, one.secret);
  const TokenSigner signer(back);
  EXPECT_EQ(signer.signing_key_id(), one.id);
  EXPECT_TRUE(signer.verify(TokenSigner({two}).sign(claims())).has_value());
}

}  // namespace
}  // namespace concertd
