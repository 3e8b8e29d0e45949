// Cost of checking a queue token: verify() runs on every request that carries one, so it must stay
// well under a microsecond. BM_hmac_one_shot is OpenSSL's HMAC() over the same text, the cost the
// precomputed key states avoid.
#include <benchmark/benchmark.h>

#include <string>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "domain/token_signer.hpp"

namespace concertd {
namespace {

/// A typical token: a 9-character generated key id, a 44-character token id (12 hex time digits and
/// 32 base64url), a 13-digit time and a 12-character user id.
TokenClaims typical_claims() {
  return TokenClaims{"019abc0123ffAbCdEfGhIjKlMnOpQrStUvWxYz-_0123", "user-1234567", from_millis(1'748'532'900'123),
                     ""};
}

const TokenSigner& signer() {
  static const TokenSigner instance({TokenKey{"k1a2b3c4d", "6f1hQm0b1ZqM9dKkz8wqYtP3rX5vN2sL7cJ4gH0eA9u"},
                                     TokenKey{"k00000000", "an-older-key-that-still-verifies"}});
  return instance;
}

void BM_verify(benchmark::State& state) {
  const std::string token = signer().sign(typical_claims());
  for (auto _ : state) {
    auto claims = signer().verify(token);
    benchmark::DoNotOptimize(claims);
  }
  if (!signer().verify(token)) {
    state.SkipWithError("a valid token did not verify");
  }
}
BENCHMARK(BM_verify);

void BM_verify_forged(benchmark::State& state) {
  std::string token = signer().sign(typical_claims());
  token[token.size() - 2] = token[token.size() - 2] == 'A' ? 'B' : 'A';  // a wrong signature, still base64url
  for (auto _ : state) {
    auto claims = signer().verify(token);
    benchmark::DoNotOptimize(claims);
  }
  if (signer().verify(token)) {
    state.SkipWithError("a forged token verified");
  }
}
BENCHMARK(BM_verify_forged);

void BM_sign(benchmark::State& state) {
  const TokenClaims claims = typical_claims();
  for (auto _ : state) {
    auto token = signer().sign(claims);
    benchmark::DoNotOptimize(token);
  }
}
BENCHMARK(BM_sign);

void BM_hmac_one_shot(benchmark::State& state) {
  const std::string token = signer().sign(typical_claims());
  const std::string text = token.substr(0, token.find('.'));
  const std::string secret = "6f1hQm0b1ZqM9dKkz8wqYtP3rX5vN2sL7cJ4gH0eA9u";
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
                                  reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac, &length));
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_hmac_one_shot);

}  // namespace
}  // namespace concertd

BENCHMARK_MAIN();
